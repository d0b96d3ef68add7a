"""Exactly one beat: a second beat exits, a killed beat frees its lock, and make run's
children die with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def beat(env: dict[str, str], tmp: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "archiveportal",
            "beat",
            "--schedule",
            str(tmp / f"{name}-schedule"),
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return
        if time.monotonic() > deadline:
            break
    pytest.fail(f"beat never logged {text!r}:\n{''.join(seen[-20:])}")


@pytest.fixture
def beat_env(tmp_path):
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("the beat lock test needs a Redis broker (CELERY_BROKER_URL)")
    env = dict(os.environ, JOBS_BEAT_LOCK_SECONDS="3", DJANGO_SETTINGS_MODULE="tests.settings")
    import redis

    from archiveportal.celery import BEAT_LOCK_KEY

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(BEAT_LOCK_KEY)
    yield env
    client.delete(BEAT_LOCK_KEY)


def test_a_second_beat_exits_and_a_killed_beats_lock_frees_itself(beat_env, tmp_path):
    first = beat(beat_env, tmp_path, "first")
    try:
        wait_for_line(first, "beat lock taken")
        second = beat(beat_env, tmp_path, "second")
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "another celery beat holds the beat lock" in out
    finally:
        first.kill()  # SIGKILL: no clean shutdown releases anything
        first.wait()
    third = beat(beat_env, tmp_path, "third")  # the dead beat's key expires: this one takes over
    try:
        wait_for_line(third, "beat lock taken")
    finally:
        third.terminate()
        third.communicate(timeout=30)


def test_the_embedded_beat_lock_is_one_per_data_directory(tmp_path):
    from archiveportal import celery as portal_celery

    portal_celery._take_file_lock(tmp_path / "beat.lock")
    with pytest.raises(portal_celery.BeatLockHeld):
        portal_celery._take_file_lock(tmp_path / "beat.lock")


def test_make_run_starts_one_dedicated_beat_and_no_worker_beat():
    sys.path.insert(0, str(ROOT / "bin"))
    try:
        import run_embedded
    finally:
        sys.path.remove(str(ROOT / "bin"))
    worker = run_embedded.worker_command()
    assert "worker" in worker and "--beat" not in worker and "-B" not in worker
    assert "beat" in run_embedded.beat_command(Path("/tmp"))
    compose = (ROOT / "docker-compose.yml").read_text()
    assert compose.count("archiveportal beat") == 1
    assert "--beat" not in compose


def test_make_runs_children_die_with_it_even_when_it_is_killed(tmp_path):
    """The orphaned beat of the audit: a child started by make run must not outlive it."""
    pidfile = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, 'bin'); import run_embedded; "
            "c = run_embedded.spawn(['sleep', '120']); "
            f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(120)",
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while True:
        try:
            done, _ = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            done = child  # reaped by init: it is gone
        if done == child or not Path(f"/proc/{child}").exists():
            break
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break  # dead, waiting for init to reap it
        assert time.monotonic() < deadline, "the child outlived its killed parent"
        time.sleep(0.05)
