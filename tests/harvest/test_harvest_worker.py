"""The scheduled harvest on a real Celery worker over Redis: an outage is retried with the jobs'
backoff and, if it lasts, fails the run with its reason while the portal keeps its mirror."""

from __future__ import annotations

import time

import pytest

from archiveportal.jobs import Phase
from harvest.models import HarvestRun
from harvest.tasks import scheduled_harvest
from queries.models import Observation
from tests.factories import ObservationFactory
from tests.integration.waiting import wait_terminal

pytestmark = pytest.mark.integration


@pytest.fixture
def scheduled(alma_replay, harvest_settings):
    harvest_settings.HARVEST_ARCHIVE_URL = alma_replay.url
    return alma_replay


def test_the_scheduled_harvest_fills_the_mirror(live_worker, scheduled):
    run = wait_terminal(HarvestRun.objects.get(pk=scheduled_harvest()))

    assert run.phase == Phase.DONE and run.new_count == 417
    assert Observation.objects.count() == 417


def test_an_outage_fails_the_run_cleanly_after_its_retry_and_keeps_the_mirror(
    live_worker, scheduled
):
    kept = ObservationFactory()
    scheduled.set_mode("unavailable")

    run = wait_terminal(HarvestRun.objects.get(pk=scheduled_harvest()))

    assert run.phase == Phase.FAILED and run.attempts == 2
    assert "could not be reached" in run.error_message
    assert list(Observation.objects.all()) == [kept]


def test_an_outage_that_ends_before_the_retry_is_ridden_out(live_worker, scheduled):
    scheduled.set_mode("unavailable")
    run = HarvestRun.objects.get(pk=scheduled_harvest())
    deadline = time.monotonic() + 60
    while "Retry 1 of 1" not in run.error_message and time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db()
    assert "could not be reached" in run.error_message  # shown on the run while it waits
    scheduled.set_mode("normal")

    run = wait_terminal(run)

    assert run.phase == Phase.DONE and run.attempts == 2 and run.error_message == ""
    assert run.new_count == 417
