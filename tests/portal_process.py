"""A portal started as its own process (``manage.py runserver``) for tests that need a second
server or embedded mode as a user runs it: start it, wait until it answers, stop it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# What an embedded portal (``make run``) must not inherit from the test run's environment.
SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "EMAIL_HOST",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
)


def manage_in(env: dict[str, str]) -> Callable[..., str]:
    """``manage(*args)``: run ``manage.py`` with ``env`` (configuration in the environment,
    never on the command line) and return its output; a failure fails the test with stderr."""

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    return manage


def start_runserver(env: dict[str, str], port: int, ready_path: str) -> subprocess.Popen:
    """Start the portal on 127.0.0.1:``port`` and wait (up to a minute) until ``ready_path``
    answers; the configuration goes in ``env``, never on the command line."""
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    return server


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
