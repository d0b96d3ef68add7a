"""Fixtures every test package may use: a real SMTP sink, a live Celery worker, a browser.

The live worker and the SMTP sink are real servers on loopback; only the network to ALMA is
replaced, by replaying files from ``../shared/refdata`` (see ``tests/archive_replay.py``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import override_settings
from hypothesis import HealthCheck, settings

from archiveportal.celery import app
from queries.archive.sample import PROPRIETARY_CODE
from queries.filters import forget_max_fov
from queries.models import Project
from tests.archive_replay import ReplayServer

# Generated inputs (Hypothesis, and schemathesis on top of it): the same examples on every run
# (a suite that fails by chance helps nobody; the generator still covers shapes nobody would
# write by hand), no example database left in the work tree, no per-example time limit (a
# shared 2-core machine), and function-scoped fixtures (the database) shared by a test's
# examples on purpose.
settings.register_profile(
    "portal",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("portal")


@pytest.fixture(autouse=True)
def _fresh_search_cache():
    """The cone search caches the widest footprint; each test starts from its own rows."""
    forget_max_fov()
    yield
    forget_max_fov()


def _sample_is_loaded() -> bool:
    return Project.objects.filter(code=PROPRIETARY_CODE).exists()


@pytest.fixture(scope="session")
def sample_lab(tmp_path_factory) -> Path:
    """The lab data cache the sample's files are written to: one for the whole run (no test
    writes into it)."""
    return tmp_path_factory.mktemp("labdata")


@pytest.fixture(scope="module")
def _sample_for_module(django_db_setup, django_db_blocker, sample_lab) -> Iterator[None]:
    """The sample archive loaded once per test module and committed, so each test's own
    transaction starts from it and rolls back to it; the module ends with the database
    flushed, as a transactional test leaves it, so no later module sees the sample unasked."""
    with django_db_blocker.unblock(), override_settings(LAB_DATA_ROOT=sample_lab):
        call_command("load_sample")
    yield
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def sample(db, _sample_for_module, sample_lab, settings) -> Path:
    """The bundled sample archive (``manage.py load_sample``) in the database, and its lab cache
    as ``LAB_DATA_ROOT``; returns the cache's folder.

    ``db`` is transactional for a test with a live server or ``transactional_db`` (pytest-django
    reads the test's fixtures), and such a test flushes the database when it ends: the next test
    of the module then loads the sample again, in its own transaction or committed.
    """
    settings.LAB_DATA_ROOT = sample_lab
    if not _sample_is_loaded():
        call_command("load_sample")
    return sample_lab


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    def bodies(self) -> list[str]:
        out = []
        for msg in self.messages:
            parts = msg.walk() if msg.is_multipart() else [msg]
            out.append(
                "\n".join(
                    p.get_payload(decode=True).decode("utf-8", "replace")
                    for p in parts
                    if not p.is_multipart() and p.get_payload(decode=True)
                )
            )
        return out


@contextmanager
def running_smtp_sink() -> Iterator[SmtpSink]:
    """Start a real SMTP server (aiosmtpd) on a free loopback port; stop it on exit.

    Shared by ``smtp_sink`` (this process's Django mail) and the chaos tests, whose portal
    processes are pointed at it with EMAIL_HOST/EMAIL_PORT.
    """
    sink = SmtpSink(host="127.0.0.1", port=0)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            sink.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink(settings) -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback; Django's mail goes to it over SMTP."""
    with running_smtp_sink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield sink


def redis_broker_url() -> str:
    url = django_settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.fail("integration tests need REDIS_URL (a real Redis broker); run `make test`")
    return url


@pytest.fixture
def live_worker(transactional_db, settings):
    """A real Celery worker (threads pool) consuming every queue from the real Redis broker.

    Messages an earlier test left in the broker (a harvest's "evaluate the watches", say) are
    purged first: they name rows of a database that test has since flushed."""
    redis_broker_url()
    with app.connection_for_write() as connection:
        for queue in ("default", "searches", "downloads"):
            connection.default_channel.queue_purge(queue)
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        queues=["default", "searches", "downloads"],
        shutdown_timeout=30,
    ) as worker:
        yield worker


@pytest.fixture(scope="module")
def browser_instance():
    """Debian's chromium driven by Playwright (no browser download).

    Module-scoped: one chromium per browser test module, closed before any other test runs.
    """
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # Here, not at the top: Playwright's import is slow and only the browser tests need it.
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser_instance, live_server):
    """A fresh browser context (own cookies) pointed at the live test server."""
    context = browser_instance.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def new_page(browser_instance, live_server):
    """Factory for more pages with their own cookies (a second member in the same test)."""
    contexts = []

    def make():
        context = browser_instance.new_context(base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def browser_login(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def archive_server(settings):
    """A replayed ALMA archive on loopback (``tests/archive_replay.py``), set as ARCHIVE_URL."""
    with ReplayServer() as state:
        settings.ARCHIVE_URL = state.url
        settings.ARCHIVE_TIMEOUT = 2.0
        yield state


@pytest.fixture
def harvest_settings(settings):
    """A harvester for the test upstreams (tests/harvest, tests/queries): small pages, so every
    harvest has several, one quick retry, a short timeout."""
    settings.HARVEST_PAGE_ROWS = 100
    settings.HARVEST_MAX_RETRIES = 1
    settings.ARCHIVE_TIMEOUT = 10.0
    settings.ARCHIVE_TOKEN = ""
    settings.HARVEST_MAX_REMOVED_FRACTION = 0.2
    return settings
