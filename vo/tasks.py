"""Celery tasks of the VO app: thin wrappers around ``vo.uws``."""

from celery import shared_task

from archiveportal.jobs import JobTask
from vo import uws
from vo.models import TapJob


class TapJobTask(JobTask):
    job_model = TapJob


@shared_task(bind=True, base=TapJobTask, name="vo.run_tap_job", ignore_result=True)
def run_tap_job(self, job_id: str) -> None:
    uws.execute_job(job_id)


@shared_task(name="vo.destroy_expired_jobs", ignore_result=True)
def destroy_expired_jobs() -> int:
    return uws.destroy_expired()
