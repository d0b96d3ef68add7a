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


def wait_for_mail(sink, count: int = 1, timeout: float = 60):
    """Wait until ``sink`` holds ``count`` messages (the email is sent after commit, by its own
    task); fail after ``timeout`` seconds. Returns the messages."""
    deadline = time.monotonic() + timeout
    while len(sink.messages) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"expected {count} emails, got {len(sink.messages)}")
        time.sleep(0.1)
    return sink.messages


def wait_until(predicate, what: str, timeout: float = 60):
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value
