"""Searches executed by a real Celery worker over real Redis, against a replayed ALMA archive."""

from __future__ import annotations

import pytest

from archiveportal.jobs import Phase
from queries import services
from queries.models import Observation, Search
from tests.factories import ObservationFactory, UserFactory
from tests.integration.waiting import wait_terminal

pytestmark = pytest.mark.integration


def test_a_mirror_search_is_counted_by_the_worker(live_worker):
    ObservationFactory(band_list="3")
    ObservationFactory(band_list="6")
    search = services.start_search(owner=UserFactory(), params={"band_list": "3"})
    search = wait_terminal(search)
    assert search.phase == Phase.DONE
    assert search.result_count == 1


def test_live_results_are_upserted_into_the_mirror(live_worker, archive_server):
    assert not Observation.objects.filter(proposal_id="2017.1.00079.S").exists()
    search = services.start_search(
        owner=UserFactory(), params={"project_code": "2017.1.00079.S"}, live=True
    )
    search = wait_terminal(search)
    assert search.phase == Phase.DONE
    assert search.archive_rows > 0
    assert search.result_count == search.archive_rows
    assert Observation.objects.filter(proposal_id="2017.1.00079.S").count() == search.archive_rows
    assert "2017.1.00079.s" in archive_server.queries[-1].lower()


def test_an_unavailable_archive_leaves_mirror_results_and_a_notice(
    live_worker, archive_server, monkeypatch
):
    from queries.tasks import run_search

    monkeypatch.setattr(run_search, "max_retries", 0)
    archive_server.set_mode("unavailable")
    ObservationFactory(band_list="7")
    search = services.start_search(owner=UserFactory(), params={"band_list": "7"}, live=True)
    search = wait_terminal(search)
    assert search.phase == Phase.DONE
    assert search.result_count == 1
    assert "unavailable" in search.notice


def test_a_rejected_query_tells_the_user_why(live_worker, archive_server):
    archive_server.set_mode("reject")
    search = services.start_search(owner=UserFactory(), params={"band_list": "3"}, live=True)
    search = wait_terminal(search)
    assert search.phase == Phase.DONE
    assert "rejected the query: Column 'bogus' does not exist" in search.notice


def test_a_search_whose_worker_died_is_completed_by_the_sweeper(live_worker):
    from datetime import timedelta

    from django.utils import timezone

    from archiveportal import jobs

    ObservationFactory(band_list="9")
    owner = UserFactory()
    # A worker claimed this row and died: running, lease expired, no message left in Redis.
    search = Search.objects.create(
        owner=owner,
        params={"band_list": "9"},
        phase=Phase.RUNNING,
        lease_expires_at=timezone.now() - timedelta(seconds=5),
    )
    assert jobs.sweep() == 1
    search = wait_terminal(search)
    assert search.phase == Phase.DONE
    assert search.result_count == 1
    assert search.attempts == 1
