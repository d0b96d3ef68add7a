"""TAP async (UWS 1.1) from pyvo: the whole job lifecycle against a live portal and worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import pyvo
import requests
from django.core.management import call_command

from queries.models import Observation
from tests.factories import UserFactory, token_for
from vo import uws
from vo.models import TapJob

pytestmark = pytest.mark.integration


def session_for(user) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token_for(user, 'read')}"
    return session


@pytest.fixture
def service(live_server, live_worker, settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    settings.VO_TAP_RESULTS_DIR = tmp_path / "tap-results"
    call_command("load_sample", verbosity=0)
    member = UserFactory(username="async_member")
    return pyvo.dal.TAPService(f"{live_server.url}/tap", session=session_for(member))


def test_run_async_gives_the_same_rows_as_the_mirror(service):
    table = service.run_async(
        "SELECT obs_id, frequency FROM ivoa.obscore WHERE band_list LIKE '%3%' ORDER BY obs_id"
    ).to_table()
    expected = list(
        Observation.objects.filter(band_list__contains="3").order_by("obs_id")
        .values_list("obs_id", flat=True)
    )  # fmt: skip
    assert list(table["obs_id"]) == expected
    assert table["frequency"].dtype.kind == "f"


def test_the_whole_uws_lifecycle(service):
    job = service.submit_job("SELECT TOP 5 obs_id FROM ivoa.obscore ORDER BY obs_id", maxrec=3)
    assert job.phase == "PENDING"
    job.execution_duration = 120
    assert job.execution_duration.sec == 120
    soon = datetime.now(UTC) + timedelta(hours=2)
    job.destruction = soon
    assert abs((job.destruction.to_datetime(timezone=UTC) - soon).total_seconds()) < 1
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED"
    result = job.fetch_result()
    assert len(result) == 3
    assert result.query_status == "OVERFLOW"
    url = job.url
    path = uws.result_path(TapJob.objects.get())
    assert path.is_file()
    job.delete()
    assert requests.get(url, headers=service._session.headers).status_code == 404
    assert not path.exists()
    assert not TapJob.objects.exists()


def test_a_query_that_fails_in_the_database_ends_in_error_with_its_reason(service):
    job = service.submit_job("SELECT target_name * 2 FROM ivoa.obscore")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "ERROR"
    with pytest.raises(pyvo.dal.DALQueryError, match="could not run"):
        job.raise_if_error()


def test_a_broken_query_ends_in_error_naming_the_problem_before_anything_runs(service):
    job = service.submit_job("SELECT nope FROM ivoa.obscore")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "ERROR"
    with pytest.raises(pyvo.dal.DALQueryError, match="unknown column 'nope'"):
        job.raise_if_error()


def test_a_pending_job_can_be_aborted(service):
    job = service.submit_job("SELECT obs_id FROM ivoa.obscore")
    job.abort()
    assert job.phase == "ABORTED"


def test_another_members_job_does_not_exist_for_them(service, live_server):
    job = service.submit_job("SELECT obs_id FROM ivoa.obscore")
    stranger = session_for(UserFactory(username="stranger"))
    assert stranger.get(job.url).status_code == 404
    listing = stranger.get(f"{live_server.url}/tap/async")
    assert str(TapJob.objects.get().pk) not in listing.text
    mine = service._session.get(f"{live_server.url}/tap/async")
    assert str(TapJob.objects.get().pk) in mine.text


def test_jobs_past_their_destruction_are_removed_with_their_results(service):
    job = service.submit_job("SELECT TOP 2 obs_id FROM ivoa.obscore")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR"], timeout=60)
    row = TapJob.objects.get()
    path = uws.result_path(row)
    assert path.is_file()
    assert uws.destroy_expired(now=row.destruction - timedelta(seconds=1)) == 0
    assert uws.destroy_expired(now=row.destruction + timedelta(seconds=1)) == 1
    assert not path.exists()
    assert not TapJob.objects.exists()
