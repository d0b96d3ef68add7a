#!/usr/bin/env python
"""A crowd: 50 logged-in members browsing search pages at once, against gunicorn as production
runs it (``archiveportal/gunicorn.conf.py``, DEBUG off, Redis cache, PostgreSQL).

    .venv/bin/python bench/bench_load.py                        # 50 members, 30 s, ap_bench
    .venv/bin/python bench/bench_load.py --members 20 --seconds 10 --workers 3 --threads 2

Bounded and local only: it starts its own gunicorn on 127.0.0.1 (a free port), creates the
members in the bench database with a random password held in memory only, logs each in through
the login form, sends every member's requests one after another (think time 0: each member is a
closed loop, so 50 members means at most 50 requests in flight), stops after ``--seconds`` and
stops gunicorn. The page mix is ``bench_search_views.py``'s cases in turn. An error is any
answer but 200 or a page without its result block. Targets (issue 13): >= 150 requests/s,
0 errors, p95 <= 500 ms. Load the data first with ``bench/bench_mirror.py``.

The load generator runs on the same cores as the server, so its own cost is kept small (one
kept-alive ``http.client`` connection per member, no ``requests`` machinery while timing) and
is reported. So is the CPU each request cost the server: gunicorn's processes and the
PostgreSQL backends they hold, read from ``/proc`` before and after the timed span, and the
Redis server's (``INFO cpu``). That
figure moves much less than the rate when other work shares the cores (seen here: +25 % at a
load average of 5, against -50 % for the rate), and ``cores x 1000 / (server ms + generator
ms)`` is the most requests per second these cores can answer.

Large results' counts are remembered as production remembers them (``queries/counts.py``);
the members run the same ten searches, so after the first round those counts come from the
cache. ``--no-count-cache`` measures the crowd counting every page again.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import django_setup
import requests
from bench_search_views import cases
from django_setup import DEFAULT_URL, percentile

ROOT = Path(__file__).resolve().parent.parent
TARGET_RPS, TARGET_P95_MS = 150, 500
RESULT_MARK = 'id="results"'  # the result block, with rows or with its no-result notice


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    p.add_argument("--members", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load before timing")
    p.add_argument("--workers", type=int, help="GUNICORN_WORKERS (default: the config's)")
    p.add_argument("--threads", type=int, help="GUNICORN_THREADS (default: the config's)")
    p.add_argument(
        "--no-count-cache",
        action="store_true",
        help="QUERIES_COUNT_CACHE_SECONDS=0: every page counts its result again",
    )
    return p.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tally:
    """What the members saw, per page label: latencies of good answers, and the errors."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, ms: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latencies.setdefault(label, []).append(ms)
            else:
                self.errors.setdefault(label, []).append(error)


def server_env(args: argparse.Namespace, port: int, data_dir: Path) -> dict[str, str]:
    """The web service's environment as docker-compose sets it, on loopback over plain http."""
    keep = ("PATH", "HOME", "LANG", "VIRTUAL_ENV", "GUNICORN_WORKER_CONNECTIONS")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        SECRET_KEY=secrets.token_urlsafe(40),  # the environment, never argv or disk
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        PORTAL_BASE_URL=f"http://127.0.0.1:{port}",
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}",
        SESSION_COOKIE_SECURE="false",
        DATA_DIR=str(data_dir),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        HARVEST_SCHEDULE_ENABLED="0",
        # Connections outlive the run (production: 60 s), so each PostgreSQL backend whose CPU
        # is read before the timed span is still there after it; a new connection costs ~1 ms.
        CONN_MAX_AGE=str(int(args.warmup + args.seconds + 300)),
    )
    if args.workers:
        env["GUNICORN_WORKERS"] = str(args.workers)
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    if args.no_count_cache:
        env["QUERIES_COUNT_CACHE_SECONDS"] = "0"
    return env


def start_gunicorn(env: dict[str, str], base: str, log: Path) -> subprocess.Popen:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "archiveportal/gunicorn.conf.py",
            "archiveportal.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/accounts/login/", timeout=10).ok:
                return server
        except requests.RequestException:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"gunicorn did not answer within a minute:\n{log.read_text()[-3000:]}")


def members(count: int) -> tuple[list[str], str]:
    """``count`` member accounts (created or reset) sharing one random password."""
    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(24)
    User = get_user_model()
    names = [f"bench-load-{n:03d}" for n in range(count)]
    for name in names:
        user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@bench"})
        user.set_password(password)
        user.save(update_fields=["password"])
    return names, password


def logged_in(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"{username} could not log in (HTTP {answer.status_code})")
    return session


class Member:
    """One logged-in member's kept-alive connection: a GET costs the generator a fraction of
    what a ``requests`` call does, which matters on cores it shares with the server."""

    def __init__(self, base: str, session: requests.Session) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        self.headers = {"Cookie": cookies, "Accept": "text/html"}
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request("GET", path, headers=self.headers)
                answer = self.connection.getresponse()
                return answer.status, answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn closed an idle kept-alive connection (keepalive = 5 s): reconnect once.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def browse(member: Member, pages, start: int, tally: Tally | None, until: float) -> None:
    """One member: the pages in turn from ``start`` until ``until``; ``tally`` None = warm-up."""
    mark = RESULT_MARK.encode()
    n = start
    while time.monotonic() < until:
        label, path = pages[n % len(pages)]
        n += 1
        started = time.perf_counter()
        error = None
        try:
            status, body = member.get(path)
            if status != 200:
                error = f"HTTP {status}"
            elif mark not in body:
                error = "no result block"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
        if tally is not None:
            tally.add(label, (time.perf_counter() - started) * 1000, error)


def cpu_ms(pids: set[int]) -> dict[int, float]:
    """User + system CPU so far of each live process in ``pids``, ms (from /proc)."""
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    spent = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        spent[pid] = (int(fields[11]) + int(fields[12])) * tick
    return spent


def server_pids(server: subprocess.Popen) -> tuple[set[int], set[int]]:
    """(gunicorn's master and workers, the PostgreSQL backends of the bench database other
    than this script's own connection)."""
    from django.db import connection

    web = {server.pid}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                web.add(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        database = {pid for (pid,) in cursor.fetchall()}
    return web, database


def redis_cpu_ms(url: str) -> float:
    """The Redis server's own CPU so far, ms (``INFO cpu``): the cache the pages use runs on
    the same cores. Shared with whatever else uses that server."""
    import redis

    info = redis.Redis.from_url(url).info("cpu")
    return (info["used_cpu_user"] + info["used_cpu_sys"]) * 1000


def spent_during(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU ms the processes spent between two readings; a process new since ``before`` counts
    whole (it started within the span). One that ended within it is missed: undercounted."""
    return sum(ms - before.get(pid, 0.0) for pid, ms in after.items())


def crowd(sessions, pages, seconds: float, tally: Tally | None) -> float:
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=browse, args=(s, pages, i, tally, until), daemon=True)
        for i, s in enumerate(sessions)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return time.monotonic() - started


def report(
    tally: Tally, elapsed: float, cpu: float, web_ms: float, database_ms: float, cache_ms: float
) -> bool:
    every = [ms for values in tally.latencies.values() for ms in values]
    errors = sum(map(len, tally.errors.values()))
    total = len(every) + errors
    rate = total / elapsed
    print(f"\n{'page':42} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for label in sorted(set(tally.latencies) | set(tally.errors)):
        values = tally.latencies.get(label, [])
        bad = tally.errors.get(label, [])
        p50 = statistics.median(values) if values else float("nan")
        p95 = percentile(values, 0.95) if values else float("nan")
        print(f"{label:42} {len(values) + len(bad):9d} {len(bad):7d} {p50:8.0f} {p95:8.0f}")
        if bad:
            print(f"{'':42} first errors: {', '.join(sorted(set(bad))[:3])}")
    p95 = percentile(every, 0.95) if every else float("inf")
    rows = (
        ("requests/s", f"{rate:.0f}", f">= {TARGET_RPS}", rate >= TARGET_RPS),
        ("errors", f"{errors}", "0", errors == 0),
        ("p95 ms (all pages)", f"{p95:.0f}", f"<= {TARGET_P95_MS}", p95 <= TARGET_P95_MS),
    )
    print(f"\n{'figure':22} {'measured':>10} {'target':>10}  ok")
    for name, measured, target, ok in rows:
        print(f"{name:22} {measured:>10} {target:>10}  {'yes' if ok else 'NO'}")
    print(f"(load generator CPU: {cpu:.1f} s over {elapsed:.1f} s, on the same cores)")
    if total:
        per = {
            "web (gunicorn, Django)": web_ms / total,
            "database (PostgreSQL backends)": database_ms / total,
            "cache (Redis server)": cache_ms / total,
            "load generator": cpu * 1000 / total,
        }
        print("\nCPU per request, ms (other work on the cores inflates it a little):")
        for name, ms in per.items():
            print(f"  {name:32} {ms:6.2f}")
        cores = os.cpu_count() or 1
        print(
            f"  {'all':32} {sum(per.values()):6.2f}  -> at most "
            f"{cores * 1000 / sum(per.values()):.0f} requests/s on {cores} cores"
        )
    return all(ok for *_, ok in rows)


def main() -> int:
    args = parse_args()
    django_setup.setup(args.database_url)
    from queries.models import Observation

    port = free_port()
    base = f"http://127.0.0.1:{port}"  # loopback only, never another host
    names, password = members(args.members)
    pages = [(label, f"/aq/?{urlencode(params)}") for label, params in cases()]
    print(
        f"{Observation.objects.count():,} observations; {args.members} members, "
        f"{len(pages)} pages in turn, {args.seconds:g} s after {args.warmup:g} s of warm-up"
    )
    with tempfile.TemporaryDirectory(prefix="bench-load-") as data_dir:
        log = Path(data_dir) / "gunicorn.log"
        server = start_gunicorn(server_env(args, port, Path(data_dir)), base, log)
        try:
            sessions = [Member(base, logged_in(base, name, password)) for name in names]
            crowd(sessions, pages, args.warmup, None)
            web, database = server_pids(server)
            web0, database0 = cpu_ms(web), cpu_ms(database)
            cache0 = redis_cpu_ms(args.redis_url)
            cpu0 = time.process_time()
            tally = Tally()
            elapsed = crowd(sessions, pages, args.seconds, tally)
            cpu = time.process_time() - cpu0
            later_web, later_database = server_pids(server)
            web_ms = spent_during(web0, cpu_ms(web | later_web))
            database_ms = spent_during(database0, cpu_ms(database | later_database))
            cache_ms = redis_cpu_ms(args.redis_url) - cache0
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0 if report(tally, elapsed, cpu, web_ms, database_ms, cache_ms) else 1


if __name__ == "__main__":
    sys.exit(main())
