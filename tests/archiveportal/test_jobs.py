"""The job-row pattern: one claim wins, results publish once, the sweeper revives dead jobs."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings as live
from django.db import connection, transaction
from django.utils import timezone

from archiveportal import jobs
from archiveportal.celery import app
from downloads.models import DownloadRequest, Outbox
from downloads.tasks import deliver_email, prepare_request
from queries import services
from queries.models import Search
from queries.tasks import run_search
from tests.factories import MemberOUSFactory, ObservationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def search():
    return Search.objects.create(owner=UserFactory(), params={"band_list": "3"})


def _backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_one_queued_job_at_once_give_it_to_exactly_one(search):
    """Six workers (threads, each with its own PostgreSQL connection) claim the same row at
    the same instant: this test holds the row's lock until every one of them is waiting on it
    (or, were ``claim`` not to lock, has already run), then lets them all go."""
    if connection.vendor != "postgresql":
        pytest.fail("this race needs PostgreSQL's concurrent transactions")
    contenders = 6
    claimed: list = []
    errors: list[BaseException] = []

    def contend() -> None:
        try:
            claimed.append(jobs.claim(Search, str(search.pk)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    with transaction.atomic():
        Search.objects.select_for_update().get(pk=search.pk)
        for thread in threads:
            thread.start()
        wait_for(lambda: _backends_waiting_for_a_lock() + len(claimed) + len(errors) >= contenders)
    for thread in threads:
        thread.join()
    assert errors == []
    winners = [job for job in claimed if job is not None]
    assert len(claimed) == contenders and len(winners) == 1
    winner = winners[0]
    jobs.stop_heartbeat(winner.pk)
    assert winner.phase == jobs.Phase.RUNNING
    assert winner.attempts == 1 and winner.lease_expires_at > timezone.now()
    search.refresh_from_db()
    assert search.phase == jobs.Phase.RUNNING and search.attempts == 1


def test_a_running_job_whose_lease_expired_can_be_claimed_again(search):
    jobs.claim(Search, str(search.pk))
    Search.objects.filter(pk=search.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    again = jobs.claim(Search, str(search.pk))
    assert again is not None and again.attempts == 2


def test_finish_publishes_once_even_when_run_twice(search):
    job = jobs.claim(Search, str(search.pk))
    published = []
    assert jobs.finish(job, publish=published.append, result_count=3)
    assert not jobs.finish(job, publish=published.append, result_count=99)
    search.refresh_from_db()
    assert search.phase == jobs.Phase.DONE and search.result_count == 3
    assert len(published) == 1


def test_fail_records_a_human_message_and_never_overrides_a_terminal_phase(search):
    jobs.fail(Search, str(search.pk), "The archive rejected the query: bad column")
    search.refresh_from_db()
    assert search.phase == jobs.Phase.FAILED
    assert "bad column" in search.error_message
    jobs.fail(Search, str(search.pk), "second failure")
    search.refresh_from_db()
    assert "bad column" in search.error_message


def test_release_hands_a_claimed_job_back_for_a_retry(search):
    job = jobs.claim(Search, str(search.pk))
    jobs.release(job)
    assert jobs.claim(Search, str(search.pk)) is not None


def test_sweeper_resends_expired_and_forgotten_jobs(search, monkeypatch):
    sent = []
    monkeypatch.setattr(
        jobs.current_app, "send_task", lambda name, args, **kw: sent.append((name, args[0]))
    )
    dead = Search.objects.create(owner=search.owner, params={})
    jobs.claim(Search, str(dead.pk))
    Search.objects.filter(pk=dead.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    Search.objects.filter(pk=search.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    fresh = Search.objects.create(owner=search.owner, params={})

    assert jobs.sweep() == 2
    assert {job_id for _, job_id in sent} == {str(dead.pk), str(search.pk)}
    assert str(fresh.pk) not in {job_id for _, job_id in sent}


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_running_jobs_heartbeat_renews_its_short_lease_until_it_finishes(settings):
    settings.JOBS_LEASE_SECONDS = 2
    settings.JOBS_HEARTBEAT_SECONDS = 0.1
    search = Search.objects.create(owner=UserFactory(), params={})
    job = jobs.claim(Search, str(search.pk))
    first = job.lease_expires_at
    assert first <= timezone.now() + timedelta(seconds=2)

    def renewed() -> bool:
        return Search.objects.get(pk=search.pk).lease_expires_at > first

    wait_for(renewed)
    assert jobs.finish(job, result_count=0)
    search.refresh_from_db()
    assert search.lease_expires_at is None and search.phase == jobs.Phase.DONE
    assert str(search.pk) not in jobs._heartbeats


@pytest.mark.django_db
def test_an_older_attempt_cannot_renew_the_lease_of_a_newer_one(search):
    old = jobs.claim(Search, str(search.pk))
    jobs.stop_heartbeat(old.pk)
    Search.objects.filter(pk=search.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    new = jobs.claim(Search, str(search.pk))
    assert not jobs.renew(old)
    assert jobs.renew(new)
    jobs.stop_heartbeat(new.pk)


def test_leases_are_short_and_renewed_well_within_them():
    assert live.JOBS_LEASE_SECONDS <= 60
    assert live.JOBS_HEARTBEAT_SECONDS * 3 <= live.JOBS_LEASE_SECONDS


def test_messages_are_acknowledged_late_and_requeued_when_a_worker_is_lost():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.django_db
def test_the_sweeper_leaves_queued_rows_alone_when_the_broker_refuses(search, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(jobs.current_app, "send_task", refuse)
    stale = timezone.now() - timedelta(hours=1)
    Search.objects.filter(pk=search.pk).update(updated_at=stale)
    with pytest.raises(ConnectionError):
        jobs.sweep()
    search.refresh_from_db()
    assert search.updated_at == stale  # still due: the next sweep sends it


# --- one retry rule for every job task --------------------------------------------------------
# ``Task.apply`` runs a task and each of its retries in this process, one after the other, so
# these tests see the whole retry sequence without waiting out the backoff.


@pytest.mark.parametrize(
    ("retries", "seconds"), [(0, 2), (1, 4), (2, 8), (5, 64), (8, 512), (9, 600), (30, 600)]
)
def test_retries_back_off_exponentially_up_to_ten_minutes(retries, seconds):
    assert jobs.backoff(retries) == seconds


def test_a_preparation_the_archive_keeps_refusing_is_retried_then_failed_with_why(archive_server):
    archive_server.set_mode("unavailable")
    mous = MemberOUSFactory()  # no files in the mirror: its DataLink listing is asked for
    request = DownloadRequest.objects.create(
        owner=UserFactory(),
        member_ous_uids=[mous.uid],
        categories=["product"],
        submitted_at=timezone.now(),
    )
    prepare_request.apply(args=[str(request.pk)])
    request.refresh_from_db()
    tries = prepare_request.max_retries + 1
    # Each retry claimed the row the one before handed back.
    assert request.attempts == tries
    assert [r.path for r in archive_server.requests] == ["/datalink/sync"] * tries
    assert request.phase == jobs.Phase.FAILED
    assert "DataLink service could not be reached" in request.error_message


def test_a_live_search_retries_the_archive_then_answers_from_the_mirror(archive_server):
    ObservationFactory(band_list="3")
    archive_server.set_mode("unavailable")
    search = services.start_search(owner=UserFactory(), params={"band_list": "3"}, live=True)
    run_search.apply(args=[str(search.pk)])
    search.refresh_from_db()
    assert search.attempts == run_search.max_retries + 1
    assert len(archive_server.queries) == run_search.max_retries + 1
    assert search.phase == jobs.Phase.DONE and search.result_count == 1
    assert "unavailable" in search.notice


def test_an_email_the_mail_server_keeps_refusing_is_retried_then_failed_with_why(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed
    request = DownloadRequest.objects.create(
        owner=UserFactory(email="owner@lab.example.org"), member_ous_uids=[], categories=[]
    )
    item = Outbox.objects.create(request=request, kind=Outbox.Kind.REQUEST_READY)
    deliver_email.apply(args=[str(item.pk)])
    item.refresh_from_db()
    assert item.attempts == deliver_email.max_retries + 1
    assert item.phase == jobs.Phase.FAILED and item.sent_at is None
    assert "refused" in item.error_message.lower()
