"""Chaos: kill workers, stop Redis, restart PostgreSQL, and lose nothing.

The whole portal runs here as it does in production, in its own processes and on its own
services: a PostgreSQL cluster made with ``initdb`` in a temporary folder and started with
``pg_ctl`` on a free port, a ``redis-server`` on a free port (no persistence, so a restart loses
every queued message: the database must be the record), a web server, Celery workers (prefork)
and exactly one beat, an SMTP sink (``tests/conftest.py``) and a replayed ALMA archive that a
test can hold in the middle of a call. The machine's shared PostgreSQL and Redis are never
touched. Leases, heartbeats and sweeps are set to seconds so that recovery fits the suite.

What every scenario asserts: no download request or search is lost (each ends done), each
request sends exactly one email, pages keep answering, and ``/health/`` tells an anonymous
caller only up or down.

A harvest gets the same treatment: its worker is killed between pages, and the run resumes
from its cursor on a new worker with the mirror an uninterrupted harvest leaves.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.archive_replay import ReplayServer, load_obscore_union
from tests.conftest import running_smtp_sink

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "chaos-pw-not-secret"
LISTING_MOUS = "uid://A001/X12a3/Xe9"  # its files come from the (replayed) archive's DataLink
PUBLIC_MOUS = "uid://A001/X99f3/X32"
REDIS_OUTAGE_SECONDS = float(os.environ.get("CHAOS_REDIS_OUTAGE_SECONDS", "30"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return path


def until(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (requests.RequestException, OSError):
            value = None
        except Exception as exc:  # a database restarting answers with errors for a moment
            if "connection" not in str(exc).lower() and "terminat" not in str(exc).lower():
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Postgres:
    """A throw-away cluster: initdb in a temporary folder, pg_ctl on a free port."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()
        self._run(
            pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "chaos"
        )

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            action,
            *extra,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(
            self.url.replace("postgres://", "postgresql://"), autocommit=True, connect_timeout=5
        ) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


@dataclass
class Redis:
    """A redis-server on a free port, without persistence: a restart loses every message."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        until(answers, "redis-server to answer", timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


@dataclass
class Stack:
    root: Path
    pg: Postgres
    redis: Redis
    archive: object
    smtp: object
    env: dict[str, str] = field(default_factory=dict)
    web: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    base: str = ""

    def spawn(self, *args: str, name: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")  # the child writes to it
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL takes the pool too
        )

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        worker = self.spawn(
            "-m",
            "celery",
            "-A",
            "archiveportal",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "-Q",
            "default,searches,downloads",
            "--loglevel",
            "INFO",
            "--hostname",
            f"chaos{n}@localhost",
            name=f"worker{n}",
        )
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=20)

    def pool_children(self, worker: subprocess.Popen) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == worker.pid:
                children.append(int(stat.parent.name))
        return children

    def session(self, username: str) -> requests.Session:
        session = requests.Session()
        page = session.get(f"{self.base}/accounts/login/", timeout=10)
        response = session.post(
            f"{self.base}/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf(page)},
            headers={"Referer": f"{self.base}/accounts/login/"},
            timeout=10,
        )
        assert response.ok and "sessionid" in session.cookies
        return session

    def request_download(self, session: requests.Session, uid: str, categories: list[str]):
        """Submit the request builder; retried with the same key until the portal answers."""

        def get_form():
            page = session.get(f"{self.base}/requests/new/", params={"mous": uid}, timeout=10)
            found = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
            return page.status_code == 200 and found and (found.group(1), csrf(page))

        key, token = until(get_form, "the request builder")
        data = {
            "mous": uid,
            "category": categories,
            "classes": "1",
            "idempotency_key": key,
            "csrfmiddlewaretoken": token,
        }

        def post():
            response = session.post(
                f"{self.base}/requests/new/",
                data=data,
                headers={"Referer": f"{self.base}/requests/new/"},
                timeout=10,
                allow_redirects=False,
            )
            return response.status_code == 302 and response.headers["Location"]

        location = until(post, "the request builder to accept the form")
        return re.search(r"/requests/([0-9a-f-]{36})/", location).group(1)

    def search(self, session: requests.Session, params: dict[str, str]) -> str | None:
        page = session.get(f"{self.base}/aq/", timeout=10)
        if page.status_code != 200:
            return None
        response = session.post(
            f"{self.base}/aq/run/",
            data={**params, "result_view": "raw", "csrfmiddlewaretoken": csrf(page)},
            headers={"Referer": f"{self.base}/aq/"},
            timeout=10,
            allow_redirects=False,
        )
        if response.status_code != 302:
            return None
        return re.search(r"search=([0-9a-f-]{36})", response.headers["Location"]).group(1)

    def phase(self, table: str, pk: str) -> str:
        return self.pg.query(f"SELECT phase FROM {table} WHERE id = %s", pk)[0][0]

    def wait_done(self, table: str, pk: str, timeout: float = 60) -> None:
        until(lambda: self.phase(table, pk) == "done", f"{table} {pk} to be done", timeout)

    def emails_for(self, request_id: str) -> int:
        return sum(f"/requests/{request_id}/script" in body for body in self.smtp.bodies())

    def wait_one_email(self, request_id: str) -> None:
        until(lambda: self.emails_for(request_id) >= 1, f"the email of {request_id}")
        until(
            lambda: (
                self.pg.query(
                    "SELECT phase FROM downloads_outbox WHERE request_id = %s", request_id
                )
                == [("done",)]
            ),
            "the outbox row to be marked sent",
        )
        assert self.emails_for(request_id) == 1


def csrf(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="chaos-", dir="/tmp"))
    os.chmod(root, 0o755)
    pg = Postgres(root / "pg")
    redis_server = Redis(root)
    with ReplayServer() as archive, running_smtp_sink() as smtp:
        pg.init()
        redis_server.start()
        port = free_port()
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "JOBS_"))}
        env = {
            **keep,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": pg.url,
            "CONN_MAX_AGE": "0",
            "SESSION_COOKIE_SECURE": "false",  # plain http on loopback
            "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_server.port}/1",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "ARCHIVE_URL": archive.url,
            "ARCHIVE_TIMEOUT": "120",
            "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATA_DIR": str(root / "var"),
            "LAB_DATA_ROOT": str(root / "labdata"),
            "JOBS_LEASE_SECONDS": "3",
            "JOBS_HEARTBEAT_SECONDS": "0.5",
            "JOBS_SWEEP_INTERVAL": "1",
            "JOBS_QUEUED_GRACE_SECONDS": "3",
            "JOBS_BEAT_LOCK_SECONDS": "5",
            "JOBS_BROKER_CHECK_SECONDS": "1",
            # Harvests only when a test starts one; small pages, so one is killed between pages.
            "HARVEST_SCHEDULE_ENABLED": "0",
            "HARVEST_PAGE_ROWS": "50",
            "HARVEST_LEASE_SECONDS": "3",
        }
        s = Stack(root=root, pg=pg, redis=redis_server, archive=archive, smtp=smtp, env=env)
        try:
            s.manage("migrate", "--no-input", "-v", "0")
            s.manage("load_sample")
            s.manage(
                "shell",
                "-c",
                "from django.contrib.auth import get_user_model; U = get_user_model(); "
                f"U.objects.create_user('member', 'member@lab.example.org', {PASSWORD!r}); "
                f"U.objects.create_user('ops', 'ops@lab.example.org', {PASSWORD!r}, "
                "is_staff=True)",
            )
            # The DataLink member OUS: no files in the mirror (the worker asks the archive)
            # and released, as ObsCore would say.
            pg.query(
                "DELETE FROM queries_archivefile WHERE member_ous_id IN "
                "(SELECT id FROM queries_memberous WHERE uid = %s)",
                LISTING_MOUS,
            )
            pg.query(
                "UPDATE queries_memberous SET release_date = now() - interval '800 days' "
                "WHERE uid = %s",
                LISTING_MOUS,
            )
            s.base = f"http://127.0.0.1:{port}"
            s.web = s.spawn("manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", name="web")
            s.beat = s.spawn(
                "-m",
                "celery",
                "-A",
                "archiveportal",
                "beat",
                "--schedule",
                str(root / "beat-schedule"),
                "--loglevel",
                "INFO",
                name="beat",
            )
            s.start_worker()
            until(lambda: requests.get(f"{s.base}/health/", timeout=2).ok, "the web server")
            yield s
        finally:
            for proc in [s.web, s.beat, *s.workers]:
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=20)
            redis_server.stop()
            try:
                pg.stop()
            except subprocess.CalledProcessError:
                pass
            shutil.rmtree(root, ignore_errors=True)


def live_worker_of(stack: Stack) -> subprocess.Popen:
    alive = [w for w in stack.workers if w.poll() is None]
    return alive[-1] if alive else stack.start_worker()


def test_a_worker_killed_mid_preparation_loses_nothing_and_sends_one_email(stack):
    member = stack.session("member")
    stack.archive.set_mode("slow", slow_seconds=120)  # hold the worker inside DataLink
    before = len(stack.archive.requests)
    worker = live_worker_of(stack)
    request_id = stack.request_download(member, LISTING_MOUS, ["product"])
    until(
        lambda: (
            stack.phase("downloads_downloadrequest", request_id) == "running"
            and any(r.path == "/datalink/sync" for r in stack.archive.requests[before:])
        ),
        "the worker to be inside the archive call",
    )
    stack.kill_worker(worker)  # SIGKILL the worker and its pool: no clean-up at all
    stack.archive.set_mode("normal")
    stack.start_worker()
    stack.wait_done("downloads_downloadrequest", request_id)
    (attempts, files) = stack.pg.query(
        "SELECT attempts, file_count FROM downloads_downloadrequest WHERE id = %s", request_id
    )[0]
    assert attempts >= 2 and files > 0
    stack.wait_one_email(request_id)


def test_a_pool_process_killed_mid_search_loses_nothing(stack):
    member = stack.session("member")
    stack.archive.set_mode("slow", slow_seconds=120)  # hold the live search inside TAP
    before = len(stack.archive.requests)
    worker = live_worker_of(stack)
    search_id = stack.search(member, {"project_code": "2017.1.00079.S", "live": "1"})
    assert search_id
    until(
        lambda: (
            stack.phase("queries_search", search_id) == "running"
            and any(r.path.endswith("/tap/sync") for r in stack.archive.requests[before:])
        ),
        "the worker to be inside the TAP call",
    )
    for pid in stack.pool_children(worker):  # the worker itself survives and forks anew
        os.kill(pid, signal.SIGKILL)
    stack.archive.set_mode("normal")
    stack.wait_done("queries_search", search_id)
    (rows,) = stack.pg.query("SELECT archive_rows FROM queries_search WHERE id = %s", search_id)[0]
    assert rows and rows > 0
    assert worker.poll() is None


def test_thirty_seconds_without_redis_lose_nothing_and_pages_say_so(stack):
    member = stack.session("member")
    staff = stack.session("ops")
    live_worker_of(stack)
    stack.redis.stop()
    stopped = time.monotonic()
    # Pages answer, with the banner, and health says "down" to a stranger and why to staff.
    page = until(
        lambda: (
            (p := member.get(f"{stack.base}/requests/", timeout=10)).status_code == 200
            and 'id="broker-banner"' in p.text
            and p
        ),
        "the broker banner",
    )
    assert "Background work is paused" in page.text
    anonymous = requests.get(f"{stack.base}/health/", timeout=10)
    assert anonymous.status_code == 503 and anonymous.json() == {"ok": False}
    assert (
        staff.get(f"{stack.base}/health/?workers=0", timeout=10).json()["checks"]["broker"]["ok"]
        is False
    )
    # Work submitted during the outage is kept by the database.
    request_id = stack.request_download(member, PUBLIC_MOUS, ["readme"])
    search_id = stack.search(member, {"band_list": "3"})
    assert search_id
    assert member.get(f"{stack.base}/requests/{request_id}/", timeout=10).status_code == 200
    time.sleep(max(0.0, REDIS_OUTAGE_SECONDS - (time.monotonic() - stopped)))
    stack.redis.start()  # empty: every message sent before the outage is gone
    stack.wait_done("downloads_downloadrequest", request_id, timeout=90)
    stack.wait_done("queries_search", search_id, timeout=90)
    stack.wait_one_email(request_id)
    until(lambda: requests.get(f"{stack.base}/health/", timeout=10).ok, "health to be up")
    assert 'id="broker-banner"' not in until(
        lambda: (
            (p := member.get(f"{stack.base}/requests/", timeout=10)).ok
            and 'id="broker-banner"' not in p.text
            and p.text
        ),
        "the banner to go",
    )


def test_a_postgresql_restart_under_load_loses_nothing(stack):
    member = stack.session("member")
    live_worker_of(stack)
    requests_made: list[str] = []
    searches_made: list[str] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            for band in ("3", "6", "7", "3", "6", "7"):
                requests_made.append(stack.request_download(member, PUBLIC_MOUS, ["readme"]))
                found = until(
                    lambda band=band: stack.search(member, {"band_list": band}),
                    "a search to be accepted",
                )
                searches_made.append(found)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=load)
    thread.start()
    until(lambda: len(requests_made) >= 2, "the load to start")
    stack.pg.restart()
    thread.join(120)
    assert not thread.is_alive() and errors == []
    assert len(requests_made) == 6 and len(searches_made) == 6
    for request_id in requests_made:
        stack.wait_done("downloads_downloadrequest", request_id, timeout=90)
    for search_id in searches_made:
        stack.wait_done("queries_search", search_id, timeout=90)
    for request_id in requests_made:
        stack.wait_one_email(request_id)
    # Nothing is left behind: every row the portal accepted is done.
    assert stack.pg.query(
        "SELECT count(*) FROM downloads_downloadrequest WHERE phase <> 'done'"
    ) == [(0,)]
    assert stack.pg.query("SELECT count(*) FROM queries_search WHERE phase <> 'done'") == [(0,)]
    assert stack.pg.query("SELECT count(*) FROM downloads_outbox WHERE phase <> 'done'") == [(0,)]


def test_a_worker_killed_mid_harvest_resumes_from_its_cursor_with_nothing_twice(stack):
    mirror_before = stack.pg.query("SELECT count(*) FROM queries_observation")[0][0]
    # The sample's 417 real ALMA rows, each modified upstream since (a reprocessing campaign).
    upstream = load_obscore_union()
    campaign = datetime(2026, 11, 30, tzinfo=UTC)
    for i, row in enumerate(upstream):
        row["lastModified"] = (campaign + timedelta(milliseconds=i)).isoformat(
            timespec="milliseconds"
        )[:-6]
    stack.archive.obscore = upstream
    stack.archive.set_mode("slow", slow_seconds=0.5)  # every page takes a while to arrive
    worker = live_worker_of(stack)
    started = stack.manage(
        "shell", "-c", "from harvest.tasks import scheduled_harvest; print(scheduled_harvest())"
    )
    run_id = started.strip().splitlines()[-1]  # after the shell's own notices

    def rows_seen() -> int:
        ((seen,),) = stack.pg.query(
            "SELECT rows_seen FROM harvest_harvestrun WHERE id = %s", run_id
        )
        return seen

    until(lambda: rows_seen() >= 100, "two pages of the harvest to be applied")
    stack.kill_worker(worker)  # SIGKILL between or inside pages: no clean-up at all
    killed_at = rows_seen()
    assert 0 < killed_at < len(upstream)
    stack.archive.set_mode("normal")
    stack.start_worker()
    stack.wait_done("harvest_harvestrun", run_id, timeout=90)
    try:
        ((attempts, seen, new, changed),) = stack.pg.query(
            "SELECT attempts, rows_seen, new_count, changed_count FROM harvest_harvestrun "
            "WHERE id = %s",
            run_id,
        )
        assert attempts >= 2 and (seen, new, changed) == (len(upstream), 0, len(upstream))
        # Each row changed once in the journal, though pages before the kill were applied by
        # the first worker and the rest by the second.
        assert stack.pg.query(
            "SELECT count(*), count(DISTINCT obs_id) FROM harvest_observationchange "
            "WHERE run_id = %s",
            run_id,
        ) == [(len(upstream), len(upstream))]
        assert stack.pg.query("SELECT count(*) FROM queries_observation")[0][0] == mirror_before
        assert stack.pg.query(
            "SELECT count(*) FROM queries_observation WHERE last_modified >= %s", campaign
        ) == [(len(upstream),)]
        assert stack.pg.query(
            "SELECT count(*) FROM queries_observation WHERE member_ous_id IS NULL"
        ) == [(0,)]
    finally:
        stack.archive.obscore = None
