"""``make run``: migrate, load the sample archive, start a worker and serve on 127.0.0.1:8000.

With no environment this is embedded mode (SQLite, kombu's filesystem broker, console mail) and
the demo accounts are created and printed. With DATABASE_URL/REDIS_URL set the same steps run
against PostgreSQL and Redis, without demo accounts unless ``DEMO_ACCOUNTS=1``.

Exactly one beat: beat runs as its own process (never ``worker --beat``, whose beat outlived a
killed worker), it takes the beat lock (``archiveportal.celery``) so a second ``make run`` on
the same data cannot start another, and the worker and beat are started with the kernel's
parent-death signal so they stop with this process even when it is killed outright.
"""

from __future__ import annotations

import ctypes
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


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int):
    """A ``preexec_fn``: the kernel sends the child SIGTERM when ``parent`` dies (Linux)."""

    def preexec() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            return  # not Linux: the finally block in main() still stops the children
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def spawn(args: list[str]) -> subprocess.Popen:
    """Start a child that dies with this process, however this process ends."""
    return subprocess.Popen(args, cwd=ROOT, preexec_fn=_die_with_parent(os.getpid()))


def beat_command(data_dir: Path) -> list[str]:
    return [
        PY,
        "-m",
        "celery",
        "-A",
        "archiveportal",
        "beat",
        "--schedule",
        str(data_dir / "celerybeat-schedule"),
        "--loglevel",
        "INFO",
    ]


def worker_command() -> list[str]:
    return [
        PY,
        "-m",
        "celery",
        "-A",
        "archiveportal",
        "worker",
        "-Q",
        "default,searches,downloads",
        "--concurrency",
        "2",
        "--loglevel",
        "INFO",
    ]


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
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var"))
    data_dir.mkdir(parents=True, exist_ok=True)
    worker = spawn(worker_command())
    beat = spawn(beat_command(data_dir))
    url = f"http://{HOST}:{PORT}/"
    print(
        f"\nArchive Portal: {url}  (worker pid {worker.pid}, beat pid {beat.pid}; "
        "Ctrl-C stops all)\n",
        flush=True,
    )
    try:
        return spawn([PY, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"]).wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in (beat, worker):
            child.send_signal(signal.SIGTERM)
        for child in (beat, worker):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
