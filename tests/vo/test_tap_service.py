"""The TAP service as its clients see it: pyvo and astroquery.alma against a live portal.

The portal serves the sample archive; the clients are the installed pyvo and astroquery, talking
HTTP to the live server, with a member's personal token in their session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvo
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astroquery.alma import Alma
from django.core.management import call_command

from queries.models import Observation
from tests.factories import UserFactory, token_for


@pytest.fixture
def portal(live_server, settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    settings.PORTAL_BASE_URL = live_server.url
    call_command("load_sample")
    member = UserFactory(username="tap_member")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token_for(member, 'read')}"
    return live_server.url, session


def test_pyvo_runs_a_sync_query_and_gets_typed_columns(portal):
    url, session = portal
    service = pyvo.dal.TAPService(f"{url}/tap", session=session)
    result = service.search(
        "SELECT TOP 5 obs_id, s_ra, frequency, calib_level FROM ivoa.obscore "
        "WHERE band_list LIKE '%6%' ORDER BY obs_id"
    )
    table = result.to_table()
    assert len(table) == 5
    assert table["s_ra"].dtype.kind == "f"
    assert table["calib_level"].dtype.kind == "i"
    assert str(table["frequency"].unit) == "GHz"
    expected = list(
        Observation.objects.filter(band_list__contains="6").order_by("obs_id")
        .values_list("obs_id", flat=True)[:5]
    )  # fmt: skip
    assert list(table["obs_id"]) == expected


def test_maxrec_cuts_the_answer_and_says_overflow(portal):
    url, session = portal
    service = pyvo.dal.TAPService(f"{url}/tap", session=session)
    result = service.search("SELECT obs_id FROM ivoa.obscore", maxrec=3)
    assert len(result) == 3
    assert result.query_status == "OVERFLOW"


def test_an_empty_answer_still_has_typed_columns(portal):
    url, session = portal
    service = pyvo.dal.TAPService(f"{url}/tap", session=session)
    table = service.search("SELECT s_ra, t_exptime FROM ivoa.obscore WHERE 1 = 0").to_table()
    assert len(table) == 0
    assert table["s_ra"].dtype.kind == "f"


def test_a_broken_query_comes_back_as_a_message_naming_the_problem(portal):
    url, session = portal
    service = pyvo.dal.TAPService(f"{url}/tap", session=session)
    with pytest.raises(pyvo.dal.DALQueryError, match="unknown column 'nope'"):
        service.search("SELECT nope FROM ivoa.obscore")


def test_anonymous_clients_are_refused_unless_the_setting_opens_metadata(portal, settings):
    url, _ = portal
    response = requests.get(
        f"{url}/tap/sync", params={"QUERY": "SELECT TOP 1 obs_id FROM ivoa.obscore"}
    )
    assert response.status_code == 401
    assert 'QUERY_STATUS" value="ERROR"' in response.text
    assert "personal token" in response.text
    settings.VO_ANONYMOUS_METADATA = True
    opened = requests.get(
        f"{url}/tap/sync", params={"QUERY": "SELECT TOP 1 obs_id FROM ivoa.obscore"}
    )
    assert opened.status_code == 200


def test_vosi_describes_the_service_and_its_tables(portal):
    url, session = portal
    service = pyvo.dal.TAPService(f"{url}/tap", session=session)
    assert service.available
    names = [t.name for t in service.tables]
    assert "ivoa.obscore" in names and "TAP_SCHEMA.columns" in names
    columns = {c.name: c for c in service.tables["ivoa.obscore"].columns}
    assert len(columns) == 73
    assert columns["frequency"].unit == "GHz"
    outputs = [o.mime for cap in service.capabilities for o in getattr(cap, "outputformats", [])]
    assert "text/csv" in outputs


def test_tap_schema_is_queryable(portal):
    url, session = portal
    service = pyvo.dal.TAPService(f"{url}/tap", session=session)
    table = service.search(
        "SELECT column_name, datatype, unit FROM TAP_SCHEMA.columns "
        "WHERE table_name = 'ivoa.obscore' AND column_name = 's_fov'"
    ).to_table()
    assert list(table["unit"]) == ["deg"]


def test_csv_and_tsv_answers(portal):
    url, session = portal
    for fmt, separator in (("csv", ","), ("tsv", "\t")):
        response = session.get(
            f"{url}/tap/sync",
            params={"QUERY": "SELECT TOP 2 obs_id, s_ra FROM ivoa.obscore", "FORMAT": fmt},
        )
        assert response.status_code == 200
        lines = response.text.strip().splitlines()
        assert lines[0] == f"obs_id{separator}s_ra"
        assert len(lines) == 3


def test_astroquery_alma_query_region_works_by_changing_only_the_url(portal):
    url, session = portal
    alma = Alma()
    alma.archive_url = url
    alma._session.headers["Authorization"] = session.headers["Authorization"]
    table = alma.query_region(SkyCoord(83.8092 * u.deg, -5.3751 * u.deg), radius=0.05 * u.deg)
    assert len(table) >= 1
    assert "Orion" in " ".join(str(name) for name in table["target_name"])


def alma_for_downloads(url: str, username: str) -> Alma:
    """astroquery at this portal, its session carrying a member's token (read and download),
    and its DataLink service given that session (astroquery builds it without one)."""
    session = requests.Session()
    session.headers["Authorization"] = (
        f"Token {token_for(UserFactory(username=username), 'read', 'download')}"
    )
    alma = Alma()
    alma.archive_url = url
    alma._session = session
    alma._datalink = pyvo.dal.adhoc.DatalinkService(alma.datalink_url, session=session)
    return alma


def test_get_data_info_with_astroquery_given_the_members_session(portal):
    """astroquery builds its DataLink service without its session: hand it one carrying the
    token (download scope) and get_data_info lists the member OUS's files from this portal."""
    url, _ = portal
    alma = alma_for_downloads(url, "datalink_member")
    public = Observation.objects.filter(member_ous__isnull=False).first().member_ous
    table = alma.get_data_info([public.uid])
    assert len(table) >= 1
    files = [str(u) for u in table["access_url"].filled("") if u]
    assert files and all(u.startswith(f"{url}/dataPortal/") for u in files)
    # The rows without a URL are the tars' service descriptors, as in ALMA's answer.
    assert all(table["service_def"][table["access_url"].filled("") == ""])


def test_query_object_with_the_name_resolver_stood_in(portal, monkeypatch):
    """Sesame is not reachable from here: the name resolves to Orion KL through a stand-in."""
    url, session = portal
    orion = SkyCoord(83.8092 * u.deg, -5.3751 * u.deg)
    monkeypatch.setattr(SkyCoord, "from_name", classmethod(lambda cls, name, **kw: orion))
    alma = Alma()
    alma.archive_url = url
    alma._session.headers["Authorization"] = session.headers["Authorization"]
    table = alma.query_object("Orion KL")
    region = alma.query_region(orion, radius=table.meta.get("radius", 10 * u.arcmin))
    assert len(table) >= 1
    assert set(table["obs_id"]) <= set(region["obs_id"])


def test_download_files_fetches_from_the_portal_with_the_token(portal, settings, tmp_path):
    url, _ = portal
    alma = alma_for_downloads(url, "downloader")
    public = Observation.objects.filter(member_ous__isnull=False).first().member_ous
    readme = [u for u in alma.get_data_info([public.uid])["access_url"] if u.endswith(".txt")]
    saved = alma.download_files(readme, savedir=str(tmp_path))
    assert len(saved) == 1
    name = readme[0].rsplit("/", 1)[-1]
    assert Path(saved[0]).read_bytes() == (Path(settings.LAB_DATA_ROOT) / name).read_bytes()
