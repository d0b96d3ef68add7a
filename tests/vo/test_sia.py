"""SIA 2.0 at /sia2: astroquery's query_sia and pyvo's SIA2Service against a live portal.

astroquery builds its SIA service without its own session, so its calls arrive anonymous: they
work where the lab opens metadata to anonymous clients (``VO_ANONYMOUS_METADATA``), as ALMA's
own service is open; pyvo with a session carrying a member's token works either way.
"""

from __future__ import annotations

import pytest
import pyvo
import requests
from astropy import units as u
from astroquery.alma import Alma
from django.core.management import call_command
from django.db.models import Q

from queries.models import Observation
from tests.factories import UserFactory, token_for
from vo import sia


@pytest.fixture
def portal(live_server, settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    call_command("load_sample", verbosity=0)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token_for(UserFactory(username='sia'), 'read')}"
    return live_server.url, session


def obs_ids(table) -> list[str]:
    return sorted(str(v) for v in table["obs_id"])


def test_query_sia_by_position_matches_the_footprints(portal, settings):
    url, _ = portal
    settings.VO_ANONYMOUS_METADATA = True
    alma = Alma()
    alma.archive_url = url
    result = alma.query_sia(pos=(83.8092 * u.deg, -5.3751 * u.deg, 0.05 * u.deg), maxrec=1000)
    tap = pyvo.dal.TAPService(f"{url}/tap").search(
        "SELECT obs_id FROM ivoa.obscore WHERE "
        "1 = INTERSECTS(CIRCLE('ICRS', 83.8092, -5.3751, 0.05), s_region)"
    )
    assert obs_ids(result.to_table()) == obs_ids(tap.to_table())
    assert len(result) >= 1


def test_band_and_calibration_level_with_a_members_session(portal):
    url, session = portal
    service = pyvo.dal.sia2.SIA2Service(f"{url}/sia2", session=session)
    low, high = 1.0e-3, 1.3e-3  # metres: about 230 to 300 GHz
    table = service.search(band=(low * u.m, high * u.m), calib_level=2, maxrec=10_000).to_table()
    expected = Observation.objects.filter(
        Q(em_min__lte=high) & Q(em_max__gte=low) & Q(calib_level=2)
    ).values_list("obs_id", flat=True)
    assert obs_ids(table) == sorted(expected)
    assert len(table) > 0


def test_anonymous_sia_is_refused_by_default(portal):
    url, _ = portal
    response = requests.get(f"{url}/sia2/query", params={"POS": "CIRCLE 83.8 -5.4 0.1"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"POS": "ELLIPSE 1 2 3"}, "use CIRCLE ra dec radius"),
        ({"POS": "CIRCLE 1 2"}, "expected 3 numbers"),
        ({"BAND": "2e-3 1e-3"}, "lower bound is above the upper"),
        ({"TIME": "x y"}, "expected numbers"),
        ({"CALIB": "high"}, "calibration level"),
    ],
)
def test_bad_parameters_are_named(portal, params, message):
    url, session = portal
    response = session.get(f"{url}/sia2/query", params=params)
    assert response.status_code == 400
    assert message in response.text
    assert 'QUERY_STATUS" value="ERROR"' in response.text


def test_several_values_of_one_parameter_are_ored_and_parameters_anded():
    adql = sia.adql_for({"CALIB": ["2", "3"], "FACILITY": ["JAO"], "unknown": ["x"]})
    assert adql == (
        "SELECT * FROM ivoa.obscore WHERE (calib_level = 2 OR calib_level = 3) AND "
        "(facility_name = 'JAO')"
    )


def test_strings_are_quoted_so_nothing_escapes_into_the_query():
    adql = sia.adql_for({"TARGET": ["x' OR '1'='1"]})
    assert adql.endswith("(target_name = 'x'' OR ''1''=''1')")
