"""Health of the three things the portal needs: database, broker, at least one worker.

Shared by the ``/health/`` view and ``manage.py health`` so both report the same truth. The view
tells an anonymous caller only up or down; the details (which part, which driver, how many
workers) are for staff. ``broker_is_up`` is the cheap, cached check behind the base template's
"background work is paused" banner: one real check per process every
``JOBS_BROKER_CHECK_SECONDS``, kept in process memory (not in the cache, which may itself live
in the Redis that is down).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from kombu import Connection

from archiveportal.celery import app


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True, connection.vendor)
    except Exception as exc:
        return Check("database", False, type(exc).__name__)


def check_broker(*, timeout: float = 2) -> Check:
    """Open a fresh connection to the configured broker (never a pooled one that may be stale)."""
    try:
        with Connection(
            app.conf.broker_url, transport_options=app.conf.broker_transport_options or {}
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            return Check("broker", True, conn.transport.driver_name)
    except Exception as exc:
        return Check("broker", False, type(exc).__name__)


def check_workers(timeout: float = 1.0) -> Check:
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return Check("workers", False, type(exc).__name__)
    return Check("workers", bool(replies), f"{len(replies)} responding")


def run_checks(*, workers: bool = True) -> list[Check]:
    checks = [check_database(), check_broker()]
    if workers:
        checks.append(check_workers())
    return checks


_broker_state: dict[str, float | bool] = {"checked_at": float("-inf"), "up": True}
_broker_lock = threading.Lock()


def broker_is_up() -> bool:
    """Whether the broker answered at the last check, re-checked at most every few seconds.

    Pages call this on every render: only the request that finds the answer stale pays for a
    check (a refused connection fails at once; a silent host costs at most one second).
    """
    now = time.monotonic()
    if now - _broker_state["checked_at"] < settings.JOBS_BROKER_CHECK_SECONDS:
        return bool(_broker_state["up"])
    if not _broker_lock.acquire(blocking=False):
        return bool(_broker_state["up"])  # another request is checking; use the last answer
    try:
        _broker_state["up"] = check_broker(timeout=1).ok
        _broker_state["checked_at"] = time.monotonic()
    finally:
        _broker_lock.release()
    return bool(_broker_state["up"])


def forget_broker_state() -> None:
    """Make the next ``broker_is_up`` check for real (tests, after changing the broker)."""
    _broker_state["checked_at"] = float("-inf")
