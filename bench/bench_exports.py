#!/usr/bin/env python
"""The whole 1M-row mirror as a CSV and a VOTable export, through gunicorn, timed, with the
server's memory watched.

    .venv/bin/python bench/bench_exports.py --database-url postgres://postgres@127.0.0.1:5432/ap_bench_b

Starts gunicorn (one gthread worker: a sync worker's timeout would end a long export; DEBUG off,
whitenoise manifest from a collectstatic into a temporary DATA_DIR) on 127.0.0.1 and a free
port only, logs a bench member in through the login form, downloads ``/aq/?format=csv`` and
``/aq/?format=votable`` with no constraint (every row), and prints for each the seconds to the
last byte, bytes, rows, and the growth of the worker's resident memory (``VmRSS`` from
``/proc/<pid>/status`` every 50 ms, peak during the download minus the value just before it)
next to the targets of issue 13: CSV <= 15 s, VOTable <= 30 s, RSS growth <= 100 MB. Stops by
itself: each download has a deadline (``--deadline``) and gunicorn is stopped in any case.
Load the data first with ``bench/bench_mirror.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import django_setup
import requests
from django_setup import DEFAULT_URL, ROOT

TARGETS = {"csv": 15.0, "votable": 30.0}
RSS_TARGET_MB = 100.0
PASSWORD = "bench-exports-password"  # a throw-away account on the bench database only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def workers(master: int) -> list[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children]


class RssWatch:
    """The summed VmRSS of gunicorn's workers, sampled in a thread; ``peak`` since ``reset``."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        return sum(rss_kb(p) for p in workers(self.master))

    def reset(self) -> int:
        self.peak = self.now()
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.now())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "archiveportal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--timeout",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health/?workers=0", timeout=2).ok:
                return server
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or its worker still importing Django: ask again.
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"gunicorn did not answer within a minute: {log.read_text()[-2000:]}")


def log_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
        allow_redirects=False,
    )
    if answer.status_code != 302:
        raise SystemExit(f"login failed: {answer.status_code}")
    return session


def download(session: requests.Session, url: str, marker: bytes, deadline: float):
    """(seconds, bytes, rows, last bytes): rows are counted as ``marker`` occurrences."""
    start = time.perf_counter()
    size = rows = 0
    tail = b""
    with session.get(url, stream=True, timeout=(10, deadline)) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            joined = tail + chunk
            rows += joined.count(marker) - tail.count(marker)
            size += len(chunk)
            tail = joined[-(len(marker) - 1) :] if len(marker) > 1 else b""
            last = joined[-64:]
            if time.perf_counter() - start > deadline:
                raise SystemExit(f"{url}: past the {deadline:.0f} s deadline, stopped")
    return time.perf_counter() - start, size, rows, last


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--deadline", type=float, default=300, help="seconds per download")
    args = parser.parse_args()
    django_setup.setup(args.database_url)

    from django.contrib.auth import get_user_model

    from queries.models import Observation

    total = Observation.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench-exports")
    user.set_password(PASSWORD)
    user.save()

    with tempfile.TemporaryDirectory(prefix="bench-exports-") as data_dir:
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-exports-only",
            "DATA_DIR": data_dir,
            "SESSION_COOKIE_SECURE": "false",
            "SECURE_SSL_REDIRECT": "false",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        }
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = free_port()
        server = start_gunicorn(env, port, Path(data_dir) / "gunicorn.log")
        watch = RssWatch(server.pid)
        try:
            base = f"http://127.0.0.1:{port}"
            session = log_in(base, user.username)
            # Warm-up: imports, the first query, the VOTable writer's code paths.
            session.get(f"{base}/aq/?project_code=2000.1.00001.S&format=votable", timeout=30)
            print(f"{total:,} rows in the mirror; gunicorn 1 gthread worker on {base}")
            print(
                f"{'export':<8} {'seconds':>8} {'target':>7} {'MB':>8} {'rows':>10} "
                f"{'RSS growth MB':>14} {'target':>7}"
            )
            for fmt, marker in (("csv", b"\n"), ("votable", b"<TR>")):
                before = watch.reset()
                seconds, size, rows, last = download(
                    session, f"{base}/aq/?format={fmt}", marker, args.deadline
                )
                grown = (watch.peak - before) / 1024
                if fmt == "csv":
                    rows -= 1  # the header
                elif not last.endswith(b"</VOTABLE>\n"):
                    raise SystemExit("the VOTable did not end with </VOTABLE>")
                print(
                    f"{fmt:<8} {seconds:>8.1f} {TARGETS[fmt]:>7.0f} {size / 1e6:>8.0f} "
                    f"{rows:>10,} {grown:>14.1f} {RSS_TARGET_MB:>7.0f}"
                )
                if rows != total:
                    print(f"  ! {rows:,} rows exported of {total:,}")
        finally:
            watch.stop()
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
