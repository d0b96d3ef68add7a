"""``make run``: migrate, load the sample archive, start a worker and serve on 127.0.0.1:8000.

With no environment this is embedded mode (SQLite, kombu's filesystem broker, console mail) and
the demo accounts are created and printed. With DATABASE_URL/REDIS_URL set the same steps run
against PostgreSQL and Redis, without demo accounts unless ``DEMO_ACCOUNTS=1``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("PORTAL_HOST", "127.0.0.1")
PORT = os.environ.get("PORTAL_PORT", "8000")


def portal_base_url() -> str:
    """Links in scripts, emails and file lists follow the address this server listens on,
    unless PORTAL_BASE_URL names another (a proxy in front of it)."""
    host = os.environ.get("PORTAL_HOST", "127.0.0.1")
    port = os.environ.get("PORTAL_PORT", "8000")
    return os.environ.get("PORTAL_BASE_URL") or f"http://{host}:{port}"


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # A SIGTERM (from a supervisor, or `timeout`) stops the worker too, not just the server.
    signal.signal(signal.SIGTERM, _stop)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archiveportal.settings")
    embedded = not os.environ.get("DATABASE_URL")
    os.environ["PORTAL_BASE_URL"] = portal_base_url()
    if embedded:
        os.environ.setdefault("DEBUG", "1")
    manage("migrate", "--no-input", "-v", "0")
    manage("load_sample")
    if embedded or os.environ.get("DEMO_ACCOUNTS") == "1":
        manage("seed_demo")
    worker = subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "archiveportal",
            "worker",
            "--beat",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
            "-Q",
            "default,searches,downloads",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
    )
    url = f"http://{HOST}:{PORT}/"
    print(f"\nArchive Portal: {url}  (worker pid {worker.pid}; Ctrl-C stops both)\n", flush=True)
    try:
        return subprocess.call(
            [PY, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"], cwd=ROOT
        )
    except KeyboardInterrupt:
        return 0
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


if __name__ == "__main__":
    sys.exit(main())
