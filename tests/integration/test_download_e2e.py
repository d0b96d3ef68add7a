"""From search to files on disk: live worker, real Redis, a real SMTP sink, the real script.

The portal serves the sample archive's files itself (the lab cache), so the whole flow runs on
loopback: the script downloaded from the portal fetches from the portal's /dataPortal/.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from apitokens.models import ApiToken
from archiveportal import jobs
from downloads import services as request_service
from downloads import serving
from downloads.models import AlmaIdentity, DownloadRequest, Outbox
from queries.archive.sample import PROPRIETARY_CODE
from queries.models import ArchiveFile
from tests.factories import UserFactory, token_for
from tests.integration.waiting import wait_for_mail, wait_terminal

pytestmark = pytest.mark.integration
CATEGORIES = ["product", "auxiliary", "readme", "raw"]


@pytest.fixture
def portal(settings, live_server, tmp_path, live_worker, sample, smtp_sink):
    settings.PORTAL_BASE_URL = live_server.url
    pi = UserFactory(username="e2e_pi", email="pi@lab.example.org")
    AlmaIdentity.objects.create(user=pi, alma_userid="demo_pi")
    member = UserFactory(username="e2e_member", email="member@lab.example.org")
    return {"pi": pi, "member": member, "smtp": smtp_sink, "tmp": tmp_path}


def request_as(user, codes: list[str]) -> DownloadRequest:
    client = Client()
    client.force_login(user)
    page = client.get("/requests/new/", {"project": codes})
    assert page.status_code == 200
    response = client.post(
        "/requests/new/",
        {"project": codes, "category": CATEGORIES, "classes": "1", "layout": "tree"},
    )
    assert response.status_code == 302
    return DownloadRequest.objects.filter(owner=user).latest("created_at")


def fetch_script(user, request: DownloadRequest, workdir: Path) -> Path:
    client = Client()
    client.force_login(user)
    response = client.get(f"/requests/{request.pk}/script")
    assert response.status_code == 200
    path = workdir / f"downloadRequest{request.pk}.sh"
    path.write_bytes(response.content)
    return path


def run_script(script: Path, workdir: Path, token: str | None, *args: str):
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_PORTAL_TOKEN"}
    env["HOME"] = str(workdir)  # no ~/.netrc of the machine's
    if token:
        env["ARCHIVE_PORTAL_TOKEN"] = token
    return subprocess.run(
        ["bash", str(script), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_pi_gets_every_file_verified_with_one_email(portal):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    assert request.phase == jobs.Phase.DONE
    assert request.denied_summary == []
    files = list(request.files.all())
    assert len(files) >= 6
    assert any(f.proprietary for f in files)

    assert len(wait_for_mail(portal["smtp"], 1)) == 1
    mail = portal["smtp"].messages[0]
    assert mail["To"] == "pi@lab.example.org"
    body = portal["smtp"].bodies()[0]
    assert f"/requests/{request.pk}/script" in body
    token = token_for(portal["pi"])
    assert token not in body

    workdir = portal["tmp"] / "pi"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    assert token not in script.read_text()
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    done = run_script(script, workdir, token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert token not in done.stdout + done.stderr
    assert f"Summary: {len(files)} of {len(files)} files verified" in done.stdout
    for row in files:
        target = workdir / row.relative_path
        catalogued = ArchiveFile.objects.get(name=row.name)
        assert sha256(target) == catalogued.checksum_sha256
        assert target.stat().st_size == catalogued.size

    # Running the preparation again changes nothing and sends no second email.
    request_service.prepare_request(str(request.pk))
    assert Outbox.objects.get(request=request).phase == jobs.Phase.DONE
    assert len(portal["smtp"].messages) == 1
    assert request.files.count() == len(files)


def test_an_interrupted_download_resumes_and_a_corrupt_file_is_fetched_again(portal, monkeypatch):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    token = token_for(portal["pi"])
    workdir = portal["tmp"] / "resume"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    assert run_script(script, workdir, token).returncode == 0

    ranges: list[str] = []
    original = serving.file_response

    def recording(req, path, *, filename):
        ranges.append(req.headers.get("Range", ""))
        return original(req, path, filename=filename)

    monkeypatch.setattr(serving, "file_response", recording)
    tars = sorted(request.files.filter(name__endswith=".tar"), key=lambda f: -(f.size or 0))
    partial, corrupt = workdir / tars[0].relative_path, workdir / tars[1].relative_path
    good = partial.read_bytes()
    partial.write_bytes(good[: len(good) // 2])  # interrupted mid-file
    corrupt.write_bytes(b"\0" * corrupt.stat().st_size)  # right size, wrong bytes

    rerun = run_script(script, workdir, token)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"bytes={len(good) // 2}-" in ranges
    assert "checksum mismatch" in rerun.stdout
    assert sha256(partial) == tars[0].checksum_sha256
    assert sha256(corrupt) == tars[1].checksum_sha256


def test_a_member_without_access_gets_the_public_part_and_a_clear_note(portal):
    request = wait_terminal(request_as(portal["member"], [PROPRIETARY_CODE]))
    assert request.phase == jobs.Phase.DONE
    assert len(request.denied_summary) == 1
    assert request.denied_summary[0]["message"].startswith("Proprietary until")
    proprietary = ArchiveFile.objects.filter(member_ous__uid="uid://A001/X99f1/X11")
    names = set(request.files.values_list("name", flat=True))
    assert names
    assert not names & set(proprietary.values_list("name", flat=True))

    wait_for_mail(portal["smtp"], 1)
    body = portal["smtp"].bodies()[-1]
    assert "Proprietary until" in body
    workdir = portal["tmp"] / "member"
    workdir.mkdir()
    script = fetch_script(portal["member"], request, workdir)
    text = script.read_text()
    assert "# Not included: uid://A001/X99f1/X11: Proprietary until" in text
    for f in proprietary:
        assert f.name not in text + body
        assert str(f.size) not in body
    token = token_for(portal["member"])
    done = run_script(script, workdir, token)
    assert done.returncode == 0, done.stdout + done.stderr


def test_list_and_dry_run_download_nothing(portal):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    workdir = portal["tmp"] / "dry"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    listing = run_script(script, workdir, None, "--list")
    dry = run_script(script, workdir, None, "--dry-run")
    assert listing.returncode == 0
    assert dry.returncode == 0
    assert "(needs your token)" in listing.stdout
    assert "would fetch" in dry.stdout
    assert sorted(p.name for p in workdir.iterdir()) == [script.name]


def test_flat_layout_and_extract_keep_almas_tree(portal):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    token = token_for(portal["pi"])
    workdir = portal["tmp"] / "flat"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    done = run_script(script, workdir, token, "--flat", "--extract", "--parallel", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    names = {p.name for p in workdir.iterdir()}
    assert {f.name for f in request.files.all()} <= names
    product = list((workdir / PROPRIETARY_CODE).rglob("product/*.fits"))
    assert product


def test_without_a_token_the_portals_files_fail_and_the_exit_code_says_so(portal):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    workdir = portal["tmp"] / "notoken"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    done = run_script(script, workdir, None)
    assert done.returncode == 1
    assert "needs your Archive Portal token" in done.stdout


def test_a_wrong_token_stops_the_script_at_once_with_the_portals_reason(portal):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    workdir = portal["tmp"] / "wrongtoken"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    done = run_script(script, workdir, "apk_not-a-real-token")
    assert done.returncode == 3
    assert "the server refused (HTTP 401)" in done.stdout
    assert "again in" not in done.stdout  # no retry round, no pause
    assert "Summary: 0 of" in done.stdout


def test_an_expired_token_is_named_as_the_reason(portal):
    request = wait_terminal(request_as(portal["pi"], [PROPRIETARY_CODE]))
    workdir = portal["tmp"] / "expired"
    workdir.mkdir()
    script = fetch_script(portal["pi"], request, workdir)
    token = token_for(portal["pi"], expires_at=timezone.now() + timedelta(minutes=1))
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # it ran out
    done = run_script(script, workdir, token)
    assert done.returncode == 3
    assert "expired" in done.stdout.lower()


def test_a_request_whose_worker_died_is_completed_by_the_sweeper(portal):
    request = DownloadRequest.objects.create(
        owner=portal["pi"],
        member_ous_uids=["uid://A001/X99f3/X32"],
        categories=["readme"],
        submitted_at=timezone.now(),
        phase=jobs.Phase.RUNNING,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert jobs.sweep() >= 1
    request = wait_terminal(request)
    assert request.phase == jobs.Phase.DONE
    assert request.file_count == 1
    assert len(wait_for_mail(portal["smtp"], 1)) == 1
