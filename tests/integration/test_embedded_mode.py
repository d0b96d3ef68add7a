"""The first README command's promise: no services, and still a working portal with a worker.

Boots the portal exactly as ``make run`` does (SQLite, kombu's filesystem broker, console mail)
in a scratch DATA_DIR, with every service variable removed from the environment.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.portal_process import SERVICE_VARS, manage_in, start_runserver, stop

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def embedded_portal(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(DATA_DIR=str(data_dir), DEBUG="1", DEMO_PASSWORD="smoke-test-pw")

    manage = manage_in(env)

    manage("migrate", "--no-input", "-v", "0")
    load_output = manage("load_sample")
    demo_output = manage("seed_demo")
    port = _free_port()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "archiveportal",
            "worker",
            "-Q",
            "default,searches,downloads",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"smoke-{port}@localhost",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = start_runserver(env, port, "/health/?workers=0")
    base = f"http://127.0.0.1:{port}"
    try:
        yield {
            "base": base,
            "env": env,
            "data_dir": data_dir,
            "manage": manage,
            "load_output": load_output,
            "demo_output": demo_output,
        }
    finally:
        for proc in (server, worker):
            stop(proc)


def login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert response.ok
    assert "sessionid" in session.cookies
    return session


def test_embedded_mode_uses_sqlite_and_the_filesystem_broker(embedded_portal):
    assert requests.get(f"{embedded_portal['base']}/health/", timeout=10).json() == {"ok": True}
    staff = login(embedded_portal["base"], "labadmin", "smoke-test-pw")
    health = staff.get(f"{embedded_portal['base']}/health/", timeout=10).json()
    assert health["checks"]["database"]["detail"] == "sqlite"
    assert health["checks"]["broker"]["ok"] is True
    assert (embedded_portal["data_dir"] / "archiveportal.sqlite3").exists()


def test_a_real_worker_process_answers_in_embedded_mode(embedded_portal):
    staff = login(embedded_portal["base"], "labadmin", "smoke-test-pw")
    deadline = time.monotonic() + 60
    workers = {}
    while time.monotonic() < deadline:
        workers = staff.get(f"{embedded_portal['base']}/health/", timeout=10).json()
        workers = workers["checks"]["workers"]
        if workers["ok"]:
            break
        time.sleep(1)
    assert workers["ok"], workers


def test_demo_accounts_are_printed(embedded_portal):
    out = embedded_portal["demo_output"]
    for username in ("pi", "delegate", "member", "labadmin"):
        assert re.search(rf"^\s+{username}\s", out, re.M), out
    assert "smoke-test-pw" in out


def test_the_sample_archive_is_loaded_and_a_member_can_log_in(embedded_portal):
    session = login(embedded_portal["base"], "member", "smoke-test-pw")
    page = session.get(f"{embedded_portal['base']}/aq/?project_code=2017.1.00079.S", timeout=30)
    assert page.status_code == 200
    assert "2017.1.00079.S" in page.text


def test_an_administrator_browses_the_mirror_in_the_admin(embedded_portal):
    session = login(embedded_portal["base"], "labadmin", "smoke-test-pw")
    page = session.get(f"{embedded_portal['base']}/admin/queries/observation/", timeout=30)
    assert page.status_code == 200
    assert "uid://A001/X1295/X35" in page.text or "417" in page.text


def test_a_search_runs_through_the_worker_on_the_filesystem_broker(embedded_portal):
    base = embedded_portal["base"]
    session = login(base, "member", "smoke-test-pw")
    page = session.get(f"{base}/aq/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/aq/run/",
        data={"band_list": "3", "result_view": "raw", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/aq/"},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302
    search_id = re.search(r"search=([0-9a-f-]{36})", response.headers["Location"]).group(1)
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = session.get(f"{base}/aq/search/{search_id}/status/", timeout=10).text
        if "Search finished" in status:
            break
        time.sleep(0.5)
    assert "Search finished" in status, status


def test_login_throttling_works_on_sqlite_without_redis(embedded_portal):
    """django-axes keeps its counts in the database: embedded mode locks out as production does,
    and an administrator's reset (here the management command) unlocks."""
    base = embedded_portal["base"]
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)

    def attempt(password: str) -> int:
        return session.post(
            f"{base}/accounts/login/",
            data={
                "username": "delegate",
                "password": password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/accounts/login/"},
            allow_redirects=False,
            timeout=10,
        ).status_code

    try:
        assert [attempt("wrong") for _ in range(5)] == [200, 200, 200, 200, 429]
        assert attempt("smoke-test-pw") == 429
    finally:
        subprocess.run(
            [sys.executable, "manage.py", "axes_reset"],
            cwd=ROOT,
            env=embedded_portal["env"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    assert attempt("smoke-test-pw") == 302


def test_embedded_mode_answers_an_unknown_address_with_a_plain_404(embedded_portal):
    response = requests.get(f"{embedded_portal['base']}/no-such-page/", timeout=10)
    assert response.status_code == 404
    assert "URLconf" not in response.text and "admin/" not in response.text
