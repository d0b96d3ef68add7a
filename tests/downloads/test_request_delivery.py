"""A request's email goes out after commit from an outbox row; a form posted twice makes one
request; a request expires at its instant, with a TTL set in hours."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from archiveportal import clock, jobs
from downloads import notifications
from downloads import services as request_service
from downloads.models import DownloadRequest, Outbox
from tests.factories import UserFactory

PUBLIC_MOUS = "uid://A001/X99f3/X32"


def submitted(owner) -> DownloadRequest:
    return DownloadRequest.objects.create(
        owner=owner,
        member_ous_uids=[PUBLIC_MOUS],
        categories=["readme"],
        submitted_at=clock.now(),
    )


# --- the outbox ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ready_email_is_not_sent_inside_the_transaction_that_marks_the_request_ready(
    sample, django_capture_on_commit_callbacks
):
    request = submitted(UserFactory())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_service.prepare_request(str(request.pk))
    request.refresh_from_db()
    assert request.phase == jobs.Phase.DONE
    assert mail.outbox == []  # nothing left the building while the row was locked
    item = Outbox.objects.get(request=request)
    assert item.phase == jobs.Phase.QUEUED and item.attempts == 0
    assert callbacks  # the delivery is dispatched once the transaction commits


@pytest.mark.django_db
def test_the_outbox_row_is_delivered_once_however_often_its_task_runs(sample):
    request = submitted(UserFactory(email="owner@lab.example.org"))
    request_service.prepare_request(str(request.pk))
    item = Outbox.objects.get(request=request)
    notifications.deliver(str(item.pk))
    notifications.deliver(str(item.pk))
    request_service.prepare_request(str(request.pk))  # a duplicate preparation
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@lab.example.org"]
    assert mail.outbox[0].extra_headers["Message-ID"] == notifications.message_id(item)
    item.refresh_from_db()
    request.refresh_from_db()
    assert item.phase == jobs.Phase.DONE and item.sent_at is not None and item.attempts == 1
    assert request.notified_at == item.sent_at
    assert Outbox.objects.filter(request=request).count() == 1


@pytest.mark.django_db
def test_an_smtp_failure_keeps_the_email_queued_with_its_error_for_a_retry(sample, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: refused
    request = submitted(UserFactory())
    request_service.prepare_request(str(request.pk))
    item = Outbox.objects.get(request=request)
    with pytest.raises(ConnectionRefusedError):
        notifications.deliver(str(item.pk))
    item.refresh_from_db()
    assert item.phase == jobs.Phase.QUEUED  # handed back: the retry can claim it
    assert item.attempts == 1
    assert item.error_message  # the last error, for the admin
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifications.deliver(str(item.pk))
    item.refresh_from_db()
    assert item.phase == jobs.Phase.DONE and item.attempts == 2 and item.error_message == ""
    assert len(mail.outbox) == 1


def test_the_email_task_retries_smtp_errors_and_the_sweeper_covers_the_outbox():
    from smtplib import SMTPException

    from downloads.tasks import deliver_email

    assert issubclass(SMTPException, deliver_email.transient_errors)
    assert deliver_email.max_retries >= 5
    assert Outbox in jobs.job_models()


@pytest.mark.django_db
def test_a_crash_between_send_and_mark_sends_again_with_the_same_message_id(sample):
    """The documented at-least-once point: the lease runs out, the sweeper's retry re-sends."""
    request = submitted(UserFactory())
    request_service.prepare_request(str(request.pk))
    item = Outbox.objects.get(request=request)
    claimed = jobs.claim(Outbox, str(item.pk))
    jobs.stop_heartbeat(claimed.pk)  # the worker "dies" here
    notifications.send_ready_email(request, msg_id=notifications.message_id(claimed))
    Outbox.objects.filter(pk=item.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))
    notifications.deliver(str(item.pk))
    assert len(mail.outbox) == 2
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 1


# --- one request per form ----------------------------------------------------------------------


def form_key(client: Client) -> str:
    page = client.get("/requests/new/", {"mous": [PUBLIC_MOUS]})
    found = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page.text)
    assert found, "the request builder carries an idempotency key"
    return found.group(1)


@pytest.mark.django_db
def test_the_same_form_posted_twice_makes_one_request(sample):
    owner = UserFactory()
    client = Client()
    client.force_login(owner)
    key = form_key(client)
    assert key != form_key(client)  # every rendering gets its own
    data = {"mous": [PUBLIC_MOUS], "category": ["readme"], "classes": "1", "idempotency_key": key}
    first = client.post("/requests/new/", data)
    second = client.post("/requests/new/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert DownloadRequest.objects.filter(owner=owner).count() == 1


@pytest.mark.django_db
def test_a_key_that_is_not_ours_is_refused_naming_the_field(sample):
    client = Client()
    client.force_login(UserFactory())
    response = client.post(
        "/requests/new/",
        {"mous": [PUBLIC_MOUS], "category": ["readme"], "classes": "1", "idempotency_key": "x\0"},
    )
    assert response.status_code == 400
    assert "idempotency_key" in response.text
    assert not DownloadRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_posts_racing_with_one_key_make_one_request_and_one_email(sample, settings):
    if connection.vendor != "postgresql":
        pytest.fail("this race needs PostgreSQL's concurrent transactions")
    owner = UserFactory()
    key = request_service.parse_idempotency_key("5f0c7a4e-8d6b-4f7e-9a51-0a9b1c2d3e4f")
    barrier = threading.Barrier(2)
    made: list[str] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait()
            made.append(
                str(
                    request_service.submit_request(
                        owner=owner,
                        mous_uids=[PUBLIC_MOUS],
                        categories=["readme"],
                        idempotency_key=key,
                    ).pk
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(made) == 2 and made[0] == made[1]
    assert DownloadRequest.objects.filter(owner=owner).count() == 1


# --- expiry at the instant -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_answers_410_from_the_instant_it_expires_before_any_cleaner_runs(
    sample, settings
):
    settings.DOWNLOADS_REQUEST_TTL_HOURS = 2
    owner = UserFactory()
    request = submitted(owner)
    with clock.frozen(clock.now()) as start:
        request_service.prepare_request(str(request.pk))
    request.refresh_from_db()
    assert request.expires_at == start + timedelta(hours=2)
    client = Client()
    client.force_login(owner)
    urls = [f"/requests/{request.pk}/{p}" for p in ("script", "files.txt", "manifest.tsv")]
    with clock.frozen(request.expires_at - timedelta(seconds=1)):
        assert [client.get(u).status_code for u in urls] == [200, 200, 200]
    with clock.frozen(request.expires_at):
        assert [client.get(u).status_code for u in urls] == [410, 410, 410]
        assert "expired" in client.get(f"/requests/{request.pk}/").text
    request.refresh_from_db()
    assert request.expired_at is None  # the cleaner has not run; the answer did not wait for it


def test_the_ttl_is_read_in_hours_from_the_environment(monkeypatch):
    import importlib

    import archiveportal.settings as portal_settings

    monkeypatch.setenv("DOWNLOADS_REQUEST_TTL_HOURS", "36")
    try:
        assert importlib.reload(portal_settings).DOWNLOADS_REQUEST_TTL_HOURS == 36
    finally:
        monkeypatch.delenv("DOWNLOADS_REQUEST_TTL_HOURS")
        importlib.reload(portal_settings)
