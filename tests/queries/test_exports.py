"""Search exports: VOTable columns are typed by the mirror's schema, whatever the rows hold."""

from __future__ import annotations

import io

import pytest
from astropy.io.votable import parse_single_table

from tests.factories import ObservationFactory, UserFactory

pytestmark = pytest.mark.django_db

NUMBERS = ("s_ra", "frequency", "bandwidth", "t_min", "pwv")
TEXTS = ("proposal_id", "target_name", "band_list", "obs_release_date", "member_ous_uid")


def _export(client, **params) -> tuple[dict[str, object], object]:
    client.force_login(UserFactory())
    response = client.get("/aq/", {**params, "format": "votable"})
    assert response.status_code == 200
    table = parse_single_table(io.BytesIO(response.content))
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
