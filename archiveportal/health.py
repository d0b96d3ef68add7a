"""Health of the three things the portal needs: database, broker, at least one worker.

Shared by the ``/health/`` view and ``manage.py health`` so both report the same truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection


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


def check_broker() -> Check:
    """Open a fresh connection to the configured broker (never a pooled one that may be stale)."""
    from kombu import Connection

    from archiveportal.celery import app

    try:
        with Connection(
            app.conf.broker_url, transport_options=app.conf.broker_transport_options or {}
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return Check("broker", True, conn.transport.driver_name)
    except Exception as exc:
        return Check("broker", False, type(exc).__name__)


def check_workers(timeout: float = 1.0) -> Check:
    from archiveportal.celery import app

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
