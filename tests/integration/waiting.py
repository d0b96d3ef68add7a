"""Bounded waiting for a job row that a live worker is processing."""

from __future__ import annotations

import time

import pytest


def wait_terminal(job, timeout: float = 90):
    """Poll the row until its phase is terminal; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.25)
    pytest.fail(f"{type(job).__name__} {job.pk} stayed {job.phase}")
