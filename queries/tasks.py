"""Celery tasks of the queries app: thin wrappers around ``queries.services``."""

from contextlib import suppress

from celery import shared_task
from django.db import OperationalError

from archiveportal.jobs import JobTask, release, stop_heartbeat
from queries.errors import ArchiveUnavailable
from queries.models import Search


class SearchTask(JobTask):
    job_model = Search
    transient_errors = (ArchiveUnavailable,)
    max_retries = 3


@shared_task(bind=True, base=SearchTask, name="queries.run_search", ignore_result=True)
def run_search(self, search_id: str) -> None:
    from queries.services import execute_search

    def retry_archive(search, exc):
        if self.request.retries < self.max_retries and not self.request.is_eager:
            release(search)
            raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1)))

    try:
        execute_search(search_id, on_transient=retry_archive)
    except OperationalError as exc:
        stop_heartbeat(search_id)
        # The database went away (restart, failover): hand the row back if it is back already,
        # else its lease runs out and the sweeper re-sends it; either way try again soon.
        with suppress(OperationalError):
            Search.objects.filter(pk=search_id, phase="running").update(
                phase="queued", lease_expires_at=None
            )
        if self.request.retries < self.max_retries and not self.request.is_eager:
            raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
        raise
