"""The ready email through a live worker: an SMTP outage is retried until the email leaves once."""

from __future__ import annotations

import socket

import pytest

from archiveportal import jobs
from downloads import services as request_service
from downloads.models import Outbox
from tests.conftest import running_smtp_sink
from tests.factories import UserFactory
from tests.integration.waiting import wait_for_mail, wait_terminal, wait_until

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_smtp_outage_is_retried_and_the_email_leaves_once(live_worker, sample, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    request = request_service.submit_request(
        owner=UserFactory(email="owner@lab.example.org"),
        mous_uids=["uid://A001/X99f3/X32"],
        categories=["readme"],
    )
    assert wait_terminal(request).phase == jobs.Phase.DONE
    item = wait_until(
        lambda: (
            Outbox.objects.filter(request=request, attempts__gte=1)
            .exclude(error_message="")
            .first()
        ),
        "a failed first send",
    )
    assert item is not None and item.attempts >= 1 and item.error_message
    assert item.phase != jobs.Phase.DONE

    with running_smtp_sink() as sink:
        settings.EMAIL_PORT = sink.port  # the mail server is back
        messages = wait_for_mail(sink, 1, timeout=60)
        item = wait_terminal(item)
        assert item.phase == jobs.Phase.DONE and item.attempts >= 2
        assert len(messages) == 1 and messages[0]["To"] == "owner@lab.example.org"
