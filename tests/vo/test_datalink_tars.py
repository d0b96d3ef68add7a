"""``get_data_info(expand_tarfiles=True)`` and ``download_files`` of one tar member, by
astroquery as installed, against a live portal serving the sample archive, and against ALMA's
own recorded answers (refdata) replayed locally: the two tables have the same shape.
"""

from __future__ import annotations

import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import pyvo
import requests
from astroquery.alma import Alma
from django.core.management import call_command

from queries.models import MemberOUS
from tests.archive_replay import REFDATA
from tests.vo.test_tap_service import alma_for_downloads

ALMA_UID = "uid://A001/X12a3/Xe9"
ALMA_FILES = {
    ALMA_UID: "alma-datalink.xml",
    "2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar": "alma-datalink-recurse-this.xml",
    "2017.1.01185.S_uid___A001_X12a3_Xe9_auxiliary.tar": "alma-datalink-recurse-aux.xml",
}


@pytest.fixture
def portal(live_server, settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    settings.PORTAL_BASE_URL = live_server.url
    call_command("load_sample")
    return live_server.url


def _sample_mous() -> MemberOUS:
    """A public sample member OUS with a product and an auxiliary tar in the lab cache."""
    return (
        MemberOUS.objects.filter(
            files__name__endswith="_auxiliary.tar", files__is_synthetic=True, data_rights="Public"
        )
        .order_by("uid")
        .first()
    )


def _tar_members(lab: Path, name: str) -> dict[str, int]:
    with tarfile.open(lab / name) as tar:
        return {m.name: m.size for m in tar if m.isreg()}


@pytest.fixture
def alma_replay():
    """ALMA's recorded DataLink answers, served from 127.0.0.1 with their URLs pointing here."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            query = parse_qs(urlparse(self.path).query)
            name = ALMA_FILES.get(query.get("ID", [""])[0])
            if name is None:
                self.send_error(404)
                return
            text = (REFDATA / "astroquery" / name).read_text()
            body = text.replace("https://almascience.org", server.url).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-votable+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.url
    server.shutdown()
    server.server_close()


def _alma_at(url: str) -> Alma:
    alma = Alma()
    alma.archive_url = url
    alma._datalink = pyvo.dal.adhoc.DatalinkService(f"{url}/datalink/sync")
    return alma


def test_expand_tarfiles_lists_every_member_of_the_product_and_auxiliary_tars(portal, settings):
    alma = alma_for_downloads(portal, "expander")
    mous = _sample_mous()
    plain = alma.get_data_info([mous.uid])
    expanded = alma.get_data_info([mous.uid], expand_tarfiles=True)
    tars = [f.name for f in mous.files.filter(category__in=["product", "auxiliary"])]
    assert len(tars) == 2
    # The plain answer names one descriptor per tar, as ALMA's does ...
    assert sorted(s for s in plain["service_def"] if s) == sorted(f"DataLink.{t}" for t in tars)
    # ... and expanding replaces those rows by the tars' members, with their exact sizes.
    assert not any(expanded["service_def"].filled(""))
    for tar in tars:
        rows = expanded[expanded["ID"] == tar]
        members = _tar_members(Path(settings.LAB_DATA_ROOT), tar)
        assert len(rows) == len(members) >= 1
        assert {u.split(f"/dataPortal/{tar}/", 1)[1] for u in rows["access_url"]} == set(members)
        assert sorted(int(n) for n in rows["content_length"]) == sorted(members.values())
        assert all(rows["readable"])
    raw = [f.name for f in mous.files.filter(category="raw")]
    assert raw and set(raw) <= {u.rsplit("/", 1)[1] for u in expanded["access_url"]}
    semantics = dict(zip(expanded["ID"], expanded["semantics"], strict=True))
    assert semantics[tars[0]] in ("#this", "#auxiliary")


def test_download_files_fetches_one_member_with_the_token(portal, settings, tmp_path):
    alma = alma_for_downloads(portal, "member_downloader")
    mous = _sample_mous()
    expanded = alma.get_data_info([mous.uid], expand_tarfiles=True)
    tar = mous.files.get(category="auxiliary").name
    url = next(u for u in expanded["access_url"] if u.endswith("/qa/qa2_report.txt"))
    saved = alma.download_files([url], savedir=str(tmp_path))
    assert [Path(s).name for s in saved] == ["qa2_report.txt"]  # no quotes in the name
    with tarfile.open(Path(settings.LAB_DATA_ROOT) / tar) as archive:
        inside = next(m for m in archive if m.name.endswith("/qa/qa2_report.txt"))
        assert Path(saved[0]).read_bytes() == archive.extractfile(inside).read()


def test_a_member_url_without_credentials_is_refused(portal):
    alma = alma_for_downloads(portal, "lister")
    expanded = alma.get_data_info([_sample_mous().uid], expand_tarfiles=True)
    member_url = next(u for u in expanded["access_url"] if ".tar/" in u)
    assert requests.get(member_url).status_code == 401


def test_the_portal_answers_in_the_shape_alma_answers(portal, alma_replay):
    """Same columns in the same order and kinds, no descriptor rows left, and each member row
    carries its tar's name as ID, against ALMA's real recorded answers and the portal."""
    alma_table = _alma_at(alma_replay).get_data_info([ALMA_UID], expand_tarfiles=True)
    portal_table = alma_for_downloads(portal, "shape").get_data_info(
        [_sample_mous().uid], expand_tarfiles=True
    )
    assert portal_table.colnames == alma_table.colnames
    for name in alma_table.colnames:
        assert portal_table[name].dtype.kind == alma_table[name].dtype.kind, name
    for table in (alma_table, portal_table):
        assert not any(table["service_def"].filled(""))
        tar_ids = {str(i) for i in table["ID"] if str(i).endswith(".tar")}
        assert any(i.endswith("_001_of_001.tar") for i in tar_ids)
        assert any(i.endswith("_auxiliary.tar") for i in tar_ids)


def test_a_member_without_rights_sees_no_member_of_a_proprietary_tar(portal, settings):
    """The proprietary sample member OUS (PI: the demo account): neither its listing nor a
    direct ask for its tar by name shows a member name or size, and the answer to the tar's
    name is the answer to an invented name."""
    proprietary = MemberOUS.objects.get(uid="uid://A001/X99f1/X11")
    tar = proprietary.files.get(category="product").name
    members = _tar_members(Path(settings.LAB_DATA_ROOT), tar)
    session = alma_for_downloads(portal, "outsider")._session
    by_uid = session.get(f"{portal}/datalink/sync", params={"ID": proprietary.uid}).text
    by_name = session.get(f"{portal}/datalink/sync", params={"ID": tar}).text
    invented = session.get(f"{portal}/datalink/sync", params={"ID": "2099.1.99999.S_x.tar"}).text
    assert by_name.replace(tar, "X") == invented.replace("2099.1.99999.S_x.tar", "X")
    assert tar not in by_uid
    for body in (by_uid, by_name):
        for name, size in members.items():
            assert name not in body and name.rsplit("/", 1)[1] not in body
            assert f"<TD>{size}</TD>" not in body
    member = next(iter(members))
    served = session.get(f"{portal}/dataPortal/{tar}/{member}")
    unknown = session.get(f"{portal}/dataPortal/{tar}/no/such/member")
    assert served.status_code == unknown.status_code == 404
    assert served.content == unknown.content
