"""Search exports: streamed whole (a cap only by setting), typed by the mirror's schema
whatever the rows hold, for logged-in members only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from astropy.io.votable import parse, parse_single_table
from django.db import connection
from django.db.models import Q
from pyvo.dal import DALResults

from archiveportal import votable
from queries import exports
from tests.factories import MemberOUSFactory, ObservationFactory, UserFactory

pytestmark = pytest.mark.django_db

NUMBERS = ("s_ra", "frequency", "bandwidth", "t_min", "pwv")
TEXTS = ("proposal_id", "target_name", "band_list", "obs_release_date", "member_ous_uid")


def _export(client, **params) -> tuple[dict[str, object], object]:
    client.force_login(UserFactory())
    response = client.get("/aq/", {**params, "format": "votable"})
    assert response.status_code == 200
    table = parse_single_table(io.BytesIO(response.getvalue()))
    return {f.name: f for f in table.fields}, table.to_table()


def test_an_empty_votable_export_still_types_numbers_as_double_and_text_as_char(client):
    fields, table = _export(client, project_code="2099.1.99999.S")
    assert len(table) == 0
    for name in NUMBERS:
        assert fields[name].datatype == "double", name
    for name in TEXTS:
        assert fields[name].datatype == "char", name
    assert fields["frequency"].unit == "GHz"
    assert fields["bandwidth"].unit == "Hz"


def test_a_column_whose_every_value_is_null_keeps_its_type_and_reads_back_masked(client):
    ObservationFactory(pwv=None, frequency=230.5)
    fields, table = _export(client, band_list="3")
    assert len(table) == 1
    assert fields["pwv"].datatype == "double"
    assert table["pwv"].mask[0]
    assert table["frequency"][0] == pytest.approx(230.5)


def _rows(client, fmt: str = "csv", **params) -> tuple[object, list[list[str]]]:
    response = client.get("/aq/", {"project_code": "2099.1.00042.S", **params, "format": fmt})
    assert response.status_code == 200
    delimiter = "\t" if fmt == "tsv" else ","
    text = response.getvalue().decode()
    return response, list(csv.reader(io.StringIO(text), delimiter=delimiter))


@pytest.fixture
def five_rows():
    mous = MemberOUSFactory(project__code="2099.1.00042.S")
    return [ObservationFactory(member_ous=mous) for _ in range(5)]


def test_an_export_streams_every_row_in_chunks_when_no_cap_is_set(
    client, five_rows, settings, monkeypatch
):
    settings.QUERIES_EXPORT_MAX_ROWS = None
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(exports, "COPY_CHUNK_BYTES", 1)
    client.force_login(UserFactory())
    response = client.get("/aq/", {"project_code": "2099.1.00042.S", "format": "csv"})
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) >= 3  # header + rows leave as they are read, not as one body
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert [r[rows[0].index("obs_id")] for r in rows[1:]] == sorted(o.obs_id for o in five_rows)
    assert "X-Result-Truncated" not in response


def test_the_export_cap_is_a_setting_and_a_cut_export_says_so(client, five_rows, settings):
    client.force_login(UserFactory())
    settings.QUERIES_EXPORT_MAX_ROWS = 3
    response, rows = _rows(client)
    assert len(rows) == 1 + 3
    assert response["X-Result-Truncated"] == "3"
    settings.QUERIES_EXPORT_MAX_ROWS = 5
    response, rows = _rows(client)
    assert len(rows) == 1 + 5
    assert "X-Result-Truncated" not in response


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_an_empty_delimited_export_still_has_its_header_with_units(client, fmt):
    client.force_login(UserFactory())
    _, rows = _rows(client, fmt)
    assert rows[0][:2] == ["proposal_id", "target_name"]
    assert "frequency [GHz]" in rows[0]
    assert len(rows) == 1


def test_delimited_cells_write_instants_in_iso_nulls_empty_and_numbers_round_trip(client):
    mous = MemberOUSFactory(
        project__code="2099.1.00042.S", release_date=datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    )
    ObservationFactory(member_ous=mous, pwv=None, frequency=0.1 + 0.2)
    client.force_login(UserFactory())
    _, rows = _rows(client)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["obs_release_date"] == "2024-03-01T12:30:00+00:00"
    assert row["pwv [mm]"] == ""
    assert float(row["frequency [GHz]"]) == 0.1 + 0.2


def test_anonymous_visitors_get_no_export(client, five_rows):
    response = client.get("/aq/", {"project_code": "2099.1.00042.S", "format": "csv"})
    assert response.status_code == 302
    assert "/login" in response["Location"] or "login" in response["Location"]
    assert five_rows[0].obs_id.encode() not in response.content


def test_a_large_votable_export_reads_back_whole_with_astropy(client, settings, monkeypatch):
    """Many chunks of TABLEDATA join into one valid document (rows cross chunk borders)."""
    monkeypatch.setattr(exports, "CHUNK_ROWS", 7)
    mous = MemberOUSFactory(project__code="2099.1.00042.S")
    ObservationFactory.create_batch(40, member_ous=mous, target_name="a < b & c")
    fields, table = _export(client, project_code="2099.1.00042.S")
    assert len(table) == 40
    assert set(table["target_name"]) == {"a < b & c"}
    assert fields["frequency"].datatype == "double"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side cursors: PostgreSQL")
def test_on_postgresql_votable_rows_come_from_a_server_side_cursor_inside_a_transaction(
    client, five_rows, monkeypatch
):
    """While the export streams, the session holds a declared cursor, and not WITH HOLD
    (which would copy the whole result on the server at the first commit)."""
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(votable, "BATCH_ROWS", 1)
    client.force_login(UserFactory())
    response = client.get("/aq/", {"project_code": "2099.1.00042.S", "format": "votable"})
    chunks = iter(response.streaming_content)
    first = b""
    while b"<TR>" not in first:  # the document's head, then the first row: the cursor is open
        first += next(chunks)
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_holdable FROM pg_cursors WHERE statement ILIKE '%%DECLARE%%'")
        assert cursor.fetchall() == [(False,)]
    assert (first + b"".join(chunks)).count(b"<TR>") == 5


TRICKY_TEXTS = ['a, "quoted" name', "tab\there", "two\nlines", "", "  ", "plain", "Orion KL"]
TRICKY_NUMBERS = [0.1 + 0.2, 5.0, 1e15, 1e-7, -0.0, None, 123456.789]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY: PostgreSQL")
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_postgresql_writes_the_same_cells_as_the_python_writer(delimiter):
    """``copied`` (the server formats) and ``stream_delimited`` (Python formats, SQLite and
    target lists) are two writers of one format: the parsed cells must agree, so a reader
    cannot tell which one wrote an export. Numbers agree as numbers (``5`` and ``5.0``)."""
    for i, (text, number) in enumerate(zip(TRICKY_TEXTS, TRICKY_NUMBERS, strict=True)):
        mous = MemberOUSFactory(
            project__code="2099.1.00042.S",
            release_date=datetime(2024, 3, 1, 12, 30, 0, 250000 * (i % 2), tzinfo=UTC),
        )
        ObservationFactory(member_ous=mous, target_name=text, frequency=number, pwv=number)
    names = ["obs_id", "target_name", "frequency", "pwv", "obs_release_date", "s_ra"]
    q = Q(proposal_id="2099.1.00042.S")

    def parsed(chunks) -> list[list[str]]:
        return list(csv.reader(io.StringIO(b"".join(chunks).decode()), delimiter=delimiter))

    by_server = parsed(exports.copied(q, names, delimiter=delimiter))
    by_python = parsed(exports.stream_delimited(exports.rows(q, names), names, delimiter=delimiter))
    assert len(by_server) == 1 + len(TRICKY_TEXTS)
    assert by_server[0] == by_python[0]
    for server_row, python_row in zip(by_server[1:], by_python[1:], strict=True):
        for name, server, python in zip(names, server_row, python_row, strict=True):
            if name in ("frequency", "pwv", "s_ra") and python:
                assert float(server) == float(python), name
            else:
                assert server == python, name
    instants = {row[4] for row in by_server[1:]}
    assert instants == {"2024-03-01T12:30:00+00:00", "2024-03-01T12:30:00.250000+00:00"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side cursors: PostgreSQL")
@pytest.mark.parametrize("fmt", ["csv", "votable"])
def test_a_client_gone_mid_export_leaves_no_cursor_or_transaction_open(five_rows, monkeypatch, fmt):
    """The server closes the body's iterator when the client hangs up, mid-COPY (CSV) or
    mid-cursor (VOTable); the connection then serves the next query."""
    monkeypatch.setattr(exports, "CHUNK_ROWS", 1)
    monkeypatch.setattr(exports, "COPY_CHUNK_BYTES", 1)
    monkeypatch.setattr(votable, "BATCH_ROWS", 1)
    names = ["proposal_id", "obs_id", "frequency"]
    q = Q(proposal_id="2099.1.00042.S")
    blocks = len(connection.atomic_blocks)
    body = exports.export(q, names, fmt, max_rows=None).chunks
    first, last = (f(o.obs_id for o in five_rows).encode() for f in (min, max))
    started = b""
    while first not in started:  # until rows are being read
        started += next(body)
    assert last not in started
    assert len(connection.atomic_blocks) == blocks + 1  # the export's transaction
    body.close()
    assert len(connection.atomic_blocks) == blocks
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE statement ILIKE '%%DECLARE%%'")
        assert cursor.fetchone() == (0,)


def test_pyvo_reads_a_votable_export_as_a_successful_result(client, five_rows):
    """pyvo (and TOPCAT's TAP client alike) checks QUERY_STATUS and reads the TABLEDATA."""
    client.force_login(UserFactory())
    response = client.get("/aq/", {"project_code": "2099.1.00042.S", "format": "votable"})
    results = DALResults(parse(io.BytesIO(response.getvalue())))
    assert results.status[0] == "OK"
    assert sorted(results["obs_id"]) == sorted(o.obs_id for o in five_rows)
