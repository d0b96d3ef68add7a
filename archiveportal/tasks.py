"""Project-wide periodic tasks."""

from celery import shared_task

from . import jobs


@shared_task(name="archiveportal.sweep_jobs", ignore_result=True)
def sweep_jobs() -> int:
    """Re-queue jobs whose worker died; scheduled by beat every ``JOBS_SWEEP_INTERVAL`` s."""
    return jobs.sweep()
