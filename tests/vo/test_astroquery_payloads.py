"""``Alma.query(payload={...})`` for every payload key astroquery.alma supports, against a live
portal on the sample archive: the obs_ids equal what the portal's own search (its form parser
and selector, ``parse_form`` + ``observation_filter``) returns for the same constraint.

Each case gives the constraint twice, because the two take it in different units or syntax:
astroquery writes ADQL on ObsCore's columns in their TAP units (``s_fov`` in degrees,
``bandwidth`` and ``spectral_resolution`` in Hz), the form takes its display units (arcsec, GHz,
kHz). String values are chosen with one spelling and one letter case in the sample: ADQL's
``=`` and ``LIKE`` are exact and case-sensitive, while the search page folds case and name
spellings (``NGC_1068`` = ``ngc1068``) on purpose, and is then a superset. Keys astroquery maps
to a column no ALMA ObsCore has (``pvw``, ``pub_year``, ``NA``) get a refusal naming the column
astroquery meant. Keys with no form field (``em_resolution``, ``authors``, ``pub_abstract``)
are compared with the ORM filter written here.
"""

from __future__ import annotations

import io

import pytest
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse_single_table
from astroquery.alma import Alma
from astroquery.alma.core import ALMA_FORM_KEYS
from django.core.management import call_command
from django.db.models import Q
from django.test import Client
from pyvo.dal import DALQueryError

from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import Observation, ResolvedName
from queries.names import name_key
from tests.factories import UserFactory, token_for

M83 = SkyCoord(204.2538 * u.deg, -29.8658 * u.deg)
M83_GALACTIC = M83.galactic

# key: (astroquery's value, the search form's parameters for the same constraint)
SAME_AS_SEARCH_PAGE: dict[str, tuple[object, dict[str, str]]] = {
    "source_name_resolver": ("M83", {"source_name_resolver": "M83"}),
    "source_name_alma": ("Antennae", {"source_name_alma": "Antennae"}),
    "ra_dec": ("204.2538 -29.8658, 0.1", {"ra_dec": "204.2538 -29.8658, 0.1"}),
    "galactic": (
        f"{M83_GALACTIC.l.deg:.5f} {M83_GALACTIC.b.deg:.5f}, 0.1",
        {"galactic": f"{M83_GALACTIC.l.deg:.5f} {M83_GALACTIC.b.deg:.5f}, 0.1"},
    ),
    "spatial_resolution": ("0.2..1.0", {"spatial_resolution": "0.2..1.0"}),
    "spatial_scale_max": ("5..20", {"spatial_scale_max": "5..20"}),
    "fov": ("0.005..0.01", {"fov": "18..36"}),  # degrees / arcsec
    "frequency": ("84..116", {"frequency": "84..116"}),
    "bandwidth": ("1e9..1.9e9", {"bandwidth": "1..1.9"}),  # Hz / GHz
    "spectral_resolution": ("1e6..3e6", {"spectral_resolution": "1000..3000"}),  # Hz / kHz
    "band_list": ("3 7", {"band_list": "3 7"}),
    "start_date": ("01-01-2017..31-12-2018", {"start_date": "01-01-2017..31-12-2018"}),
    "integration_time": ("1000..5000", {"integration_time": "1000..5000"}),
    "polarisation_type": ("Dual", {"polarisation_type": "Dual"}),
    "line_sensitivity": ("0.5..2", {"line_sensitivity": "0.5..2"}),
    "continuum_sensitivity": ("0.02..0.1", {"continuum_sensitivity": "0.02..0.1"}),
    "project_code": ("2017.1.00079.S", {"project_code": "2017.1.00079.S"}),
    "project_title": ("*M83*", {"project_title": "*M83*"}),
    "pi_name": ("Saito, Toshiki", {"pi_name": "Saito, Toshiki"}),
    "proposal_authors": ("*Koda*", {"proposal_authors": "*Koda*"}),
    "project_abstract": ("*Seyfert*", {"project_abstract": "*Seyfert*"}),
    # A row's science_keyword is a list ("A, B"); the page picks rows listing the keyword,
    # astroquery's '=' rows whose whole list is that value: the wildcard form means the same.
    "science_keyword": (
        "*Active Galactic Nuclei (AGN)/Quasars (QSO)*",
        {"science_keyword": "*Active Galactic Nuclei (AGN)/Quasars (QSO)*"},
    ),
    # astroquery reads '..' in a value as a range, so a whole bibcode cannot be sent.
    "bibcode": ("*2020ApJ*", {"bibcode": "*2020ApJ*"}),
    "pub_title": ("*Dense*", {"pub_title": "*Dense*"}),
    "first_author": ("*Harada*", {"first_author": "*Harada*"}),
    "public_data": (True, {"public_data": "yes"}),
    "science_observation": (True, {"science_observation": "yes"}),
}
# Keys with no search-form field: the ORM filter for the same constraint.
NO_FORM_FIELD: dict[str, tuple[object, Q]] = {
    "em_resolution": ("1e8..5e8", Q(em_resolution__gte=1e8, em_resolution__lte=5e8)),
    "authors": ("*Koda*", Q(authors__contains="Koda")),
    "pub_abstract": ("*molecular*", Q(pub_abstract__contains="molecular")),
}
# astroquery 0.4.11 maps these keys to columns that ALMA's ObsCore does not have.
MISSPELLED = {
    "water_vapour": ("0.5..1.5", "pvw", "pwv"),
    "publication_year": ("2019", "pub_year", "publication_year"),
    "publication_count": ("5", "NA", None),
}


def _resolver_stands_in(monkeypatch) -> None:
    """Sesame is not reachable from here: astroquery's resolver and the portal's cache agree."""
    monkeypatch.setattr(SkyCoord, "from_name", classmethod(lambda cls, name, **kw: M83))
    ResolvedName.objects.update_or_create(
        name_key=name_key("M83"), defaults={"name": "M83", "ra": 204.2538, "dec": -29.8658}
    )


def _page_obs_ids(form: dict[str, str]) -> set[str]:
    """What the search page selects for ``form``: its parser and its selector's filter."""
    found = Observation.objects.filter(observation_filter(parse_form(form)))
    return set(found.values_list("obs_id", flat=True))


def _adql(payload: dict, **flags) -> str:
    """The ADQL astroquery sends for ``payload`` (``get_query_payload`` builds it offline)."""
    flags = {"public": None, "science": None, **flags}
    return Alma().query(payload=payload, get_query_payload=True, **flags)


@pytest.fixture
def tap(sample, monkeypatch):
    """``/tap/sync`` of a portal holding the sample, asked as a logged-in member."""
    _resolver_stands_in(monkeypatch)
    client = Client()
    client.force_login(UserFactory(username="payload_member"))

    def obs_ids(adql: str) -> set[str]:
        response = client.get("/tap/sync", {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql})
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if b'value="ERROR"' in body:
            raise DALQueryError(body.decode())
        assert response.status_code == 200, body
        return {str(v) for v in parse_single_table(io.BytesIO(body)).to_table()["obs_id"]}

    return obs_ids


def test_every_payload_key_astroquery_supports_is_covered_here():
    keys = {attrib[0] for group in ALMA_FORM_KEYS.values() for attrib in group.values()}
    assert keys == set(SAME_AS_SEARCH_PAGE) | set(NO_FORM_FIELD) | set(MISSPELLED)


@pytest.mark.parametrize("key", list(SAME_AS_SEARCH_PAGE))
def test_a_payload_key_selects_what_the_search_page_selects(tap, key):
    value, form = SAME_AS_SEARCH_PAGE[key]
    page = _page_obs_ids(form)
    assert page, f"choose a {key} value that selects something in the sample"
    if key != "polarisation_type":  # every sample row is dual polarisation
        assert page != set(Observation.objects.values_list("obs_id", flat=True))
    assert tap(_adql({key: value})) == page


@pytest.mark.parametrize("key", list(NO_FORM_FIELD))
def test_a_payload_key_without_a_form_field_selects_what_the_orm_selects(tap, key):
    value, q = NO_FORM_FIELD[key]
    expected = set(Observation.objects.filter(q).values_list("obs_id", flat=True))
    assert expected
    assert tap(_adql({key: value})) == expected


@pytest.mark.parametrize("key", list(MISSPELLED))
def test_a_key_astroquery_maps_to_a_missing_column_is_refused_naming_the_column(tap, key):
    value, column, meant = MISSPELLED[key]
    with pytest.raises(DALQueryError) as refused:
        tap(_adql({key: value}))
    message = str(refused.value)
    assert f"unknown column {column!r}" in message
    if meant:
        assert f"did you mean {meant!r}" in message


def test_public_and_science_flags_select_complements(tap):
    everything = set(Observation.objects.values_list("obs_id", flat=True))
    public = tap(_adql({}, public=True))
    proprietary = tap(_adql({}, public=False))
    assert public == _page_obs_ids({"public_data": "yes"})
    assert public and proprietary
    assert public | proprietary == everything and not public & proprietary
    science, calibration = tap(_adql({}, science=True)), tap(_adql({}, science=False))
    assert calibration and science | calibration == everything and not science & calibration


def test_astroquery_over_http_gets_the_same_answers_for_every_key(
    live_server, settings, tmp_path, monkeypatch
):
    """The same cases through astroquery's own HTTP calls to a live portal (one load of the
    sample for all of them): query() as a notebook calls it."""
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    settings.PORTAL_BASE_URL = live_server.url
    call_command("load_sample", verbosity=0)
    _resolver_stands_in(monkeypatch)
    alma = Alma()
    alma.archive_url = live_server.url
    alma._session = requests.Session()
    token = token_for(UserFactory(username="payload_http"), "read")
    alma._session.headers["Authorization"] = f"Token {token}"
    differing = {}
    for key, (value, form) in SAME_AS_SEARCH_PAGE.items():
        table = alma.query(payload={key: value}, public=None, science=None)
        if {str(v) for v in table["obs_id"]} != _page_obs_ids(form):
            differing[key] = value
    assert differing == {}
    with pytest.raises(DALQueryError, match="did you mean 'pwv'"):
        alma.query(payload={"water_vapour": "0.5..1.5"}, public=None, science=None)
