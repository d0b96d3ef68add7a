"""The job-row pattern: one claim wins, results publish once, the sweeper revives dead jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from archiveportal import jobs
from queries.models import Search
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def search():
    return Search.objects.create(owner=UserFactory(), params={"band_list": "3"})


def test_a_queued_job_is_claimed_once(search):
    first = jobs.claim(Search, str(search.pk))
    second = jobs.claim(Search, str(search.pk))
    assert first is not None and first.phase == jobs.Phase.RUNNING
    assert first.attempts == 1 and first.lease_expires_at > timezone.now()
    assert second is None


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
