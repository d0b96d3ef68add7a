"""Celery tasks of the harvest: thin wrappers around ``harvest.services``."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from archiveportal import jobs
from harvest import services
from harvest.bulk import restore_indexes
from harvest.models import HarvestMode, HarvestRun
from queries.errors import ArchiveUnavailable

log = logging.getLogger(__name__)


class HarvestTask(jobs.JobTask):
    job_model = HarvestRun
    # An upstream outage is retried with the jobs' backoff; a TAP error, a malformed row or a
    # refused sweep fail the run at once with their message (``JobTask.on_failure``).
    transient_errors = (OperationalError, ArchiveUnavailable)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        if args:
            # A failed first load must not leave the mirror without its indexes.
            run = HarvestRun.objects.filter(pk=args[0]).first()
            if run is not None:
                restore_indexes(run)


@shared_task(bind=True, base=HarvestTask, name="harvest.run_harvest", ignore_result=True)
def run_harvest(self, run_id: str) -> None:
    self.max_retries = settings.HARVEST_MAX_RETRIES

    def work(job_id: str) -> None:
        run = jobs.claim(HarvestRun, job_id, lease_seconds=settings.HARVEST_LEASE_SECONDS)
        if run is None:
            return
        try:
            services.execute(run)
        except ArchiveUnavailable as exc:
            services.note_error(
                run,
                f"{exc} Retry {self.request.retries + 1} of {self.max_retries} in "
                f"{jobs.backoff(self.request.retries)} s; the portal keeps serving its mirror.",
            )
            raise

    jobs.run(self, work, run_id)


@shared_task(name="harvest.scheduled_harvest", ignore_result=True)
def scheduled_harvest(mode: str = HarvestMode.INCREMENTAL) -> str | None:
    """Beat's entry: start (or resume) a harvest of ``HARVEST_ARCHIVE_URL`` unless one runs."""
    try:
        run = services.start_run(archive_url=settings.HARVEST_ARCHIVE_URL, mode=mode)
    except services.HarvestBusy as exc:
        log.info("scheduled harvest skipped: %s", exc)
        return None
    jobs.dispatch(run)
    return str(run.pk)
