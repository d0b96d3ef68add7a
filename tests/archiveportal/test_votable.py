"""The one VOTable writer: every datatype written one way, whichever surface writes it."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from astropy.io.votable import parse_single_table
from django.test import Client

from archiveportal import votable
from queries.models import Observation
from tests.factories import UserFactory
from vo.adql import OutputColumn

NOON = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
CELLS = [
    # value, datatype, the cell
    (None, "double", "<TD/>"),
    (math.nan, "double", "<TD/>"),
    (0.1, "double", "<TD>0.1</TD>"),
    (7, "long", "<TD>7</TD>"),
    (True, "boolean", "<TD>true</TD>"),
    (False, "boolean", "<TD>false</TD>"),
    ("T", "boolean", "<TD>true</TD>"),
    ("F", "boolean", "<TD>false</TD>"),
    (
        datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "char",
        "<TD>2024-01-01T12:00:00.123</TD>",
    ),
    (
        datetime(2024, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        "char",
        "<TD>2024-01-01T12:00:00.000</TD>",
    ),
    (date(2024, 1, 2), "char", "<TD>2024-01-02</TD>"),
    ("a < b & 'c'", "char", "<TD>a &lt; b &amp; 'c'</TD>"),
]


@pytest.mark.parametrize(("value", "datatype", "expected"), CELLS)
def test_a_value_is_written_one_way(value, datatype, expected):
    assert votable.cell(value, datatype) == expected


@pytest.mark.parametrize(("value", "datatype", "expected"), CELLS)
@pytest.mark.parametrize("neighbour", [("x", "char"), (2.5, "double"), (None, "long")])
def test_a_streamed_row_writes_each_value_as_the_one_cell_rule_does(
    value, datatype, expected, neighbour
):
    """The stream's per-row writer (fast paths by type) writes exactly ``cell``'s text."""
    fields = [votable.Field("a", neighbour[1]), votable.Field("b", datatype)]
    body = b"".join(votable.stream(fields, [(neighbour[0], value)])).decode()
    row = re.search(r"<TR>.*</TR>", body).group(0)
    assert row == f"<TR>{votable.cell(neighbour[0], neighbour[1])}{expected}</TR>"


@pytest.mark.parametrize(
    ("value", "datatype"),
    [(math.inf, "double"), ("2.5", "double"), (True, "long"), ("7", "int"), (3, "char")],
)
def test_values_of_another_type_than_their_column_are_written_by_the_cell_rule(value, datatype):
    body = b"".join(votable.stream([votable.Field("a", datatype)], [(value,)])).decode()
    assert f"<TR>{votable.cell(value, datatype)}</TR>" in body


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="unpack"):
        b"".join(votable.stream([votable.Field("a", "long")], [(1, 2)]))


def test_a_tap_column_and_a_field_write_the_same_document():
    """The TAP translator's OutputColumn and the writer's own Field are the same FIELD."""
    rows = [(datetime(2024, 5, 6, tzinfo=UTC), True, 1.5, None)]
    names = [("when", "char"), ("flag", "boolean"), ("x", "double"), ("n", "long")]
    as_fields = [votable.Field(n, t, unit="deg" if n == "x" else "") for n, t in names]
    as_columns = [OutputColumn(n, t, unit="deg" if n == "x" else "") for n, t in names]
    assert votable.render(as_fields, rows) == b"".join(votable.stream(as_columns, rows))
    table = parse_single_table(io.BytesIO(votable.render(as_fields, rows))).to_table()
    assert bool(table["flag"][0]) is True
    assert table["x"].unit == "deg"


def test_overflow_is_said_after_the_table_and_services_after_the_results():
    descriptor = votable.ServiceDescriptor("DataLink.x.tar", "http://p/datalink?ID=x.tar", "s")
    body = b"".join(
        votable.stream([votable.Field("a", "long")], [(1,)], overflow=lambda: True)
    ).decode()
    assert body.index("</TABLE>") < body.index('value="OVERFLOW"') < body.index("</RESOURCE>")
    linked = votable.render([votable.Field("a", "long")], [], services=[descriptor]).decode()
    assert linked.index('<RESOURCE type="results">') < linked.index('ID="DataLink.x.tar"')


@pytest.mark.django_db
def test_an_export_and_a_tap_answer_write_the_release_date_alike(sample):
    """The search export and TAP, asked for the same row, write the same obs_release_date text."""
    client = Client()
    client.force_login(UserFactory())
    row = Observation.objects.filter(obs_release_date__isnull=False).order_by("obs_id").first()
    export = client.get("/aq/", {"project_code": row.proposal_id, "format": "votable"}).getvalue()
    tap = b"".join(
        client.get(
            "/tap/sync",
            {
                "QUERY": "SELECT obs_id, obs_release_date FROM ivoa.obscore "
                f"WHERE obs_id = '{row.obs_id}'"
            },
        ).streaming_content
    )
    written = votable.instant(row.obs_release_date)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", written)
    assert f"<TD>{written}</TD>".encode() in export
    assert f"<TD>{written}</TD>".encode() in tap
