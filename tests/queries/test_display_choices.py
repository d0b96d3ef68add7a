"""A member's display choices: positions in sexagesimal or degrees, the spectral axis as
frequency or wavelength, remembered; what is stored, sorted and exported does not change."""

from __future__ import annotations

import csv
import re

import pytest
from astropy.coordinates import Angle

from queries.columns import dec_dms, ra_hms
from queries.models import ColumnPreference
from tests.factories import UserFactory


@pytest.mark.parametrize("ra", [0.0, 83.8221, 204.253958, 359.99999, 150.000001])
def test_right_ascension_reads_as_astropy_writes_it(ra):
    expected = (
        Angle(ra, "deg").wrap_at("360d").to_string(unit="hourangle", sep=":", precision=2, pad=True)
    )
    assert ra_hms(ra) == expected.replace("24:00:00.00", "00:00:00.00")


@pytest.mark.parametrize("dec", [-5.3911, -29.8654, 0.0, 89.99999, -0.0001, 12.5])
def test_declination_reads_as_astropy_writes_it(dec):
    expected = Angle(dec, "deg").to_string(
        unit="deg", sep=":", precision=1, pad=True, alwayssign=True
    )
    assert dec_dms(dec) == expected


@pytest.mark.django_db
def test_the_choice_is_remembered_and_changes_only_how_the_table_reads(client, sample):
    member = UserFactory()
    client.force_login(member)
    params = {"project_code": "2017.1.00079.S", "sort": "s_ra"}
    before = client.get("/aq/", params).content.decode()

    client.post(
        "/aq/columns/",
        {
            "columns": ["proposal_id", "s_ra", "s_dec", "frequency"],
            "coordinates": "sexagesimal",
            "spectral": "wavelength",
            "next": "/aq/",
        },
    )
    after = client.get("/aq/", params).content.decode()

    pref = ColumnPreference.objects.get(user=member)
    assert (pref.coordinates, pref.spectral) == ("sexagesimal", "wavelength")
    assert "RA [h:m:s]" in after and "Wavelength [mm]" in after
    assert re.search(r"<td class=\"num\">13:\d\d:\d\d\.\d\d</td>", after)
    assert re.search(r"<td class=\"num\">-29:\d\d:\d\d\.\d</td>", after)
    # Same rows in the same order: only their reading changed.
    order = re.compile(r'<tr data-obs="([^"]+)"')
    assert order.findall(before) == order.findall(after)
    export = client.get("/aq/", {**params, "format": "csv"})
    header, first, *_ = list(csv.reader(b"".join(export.streaming_content).decode().splitlines()))
    assert float(first[header.index("s_ra [deg]")]) == pytest.approx(204.25, abs=0.5)
