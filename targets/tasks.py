"""Celery task of target lists: a thin wrapper around ``targets.services.search_targets``."""

from celery import shared_task

from archiveportal import jobs
from targets.models import TargetList
from targets.services import search_targets as search


class TargetListTask(jobs.JobTask):
    job_model = TargetList
    max_retries = 3


@shared_task(bind=True, base=TargetListTask, name="targets.search_targets", ignore_result=True)
def search_targets(self, list_id: str) -> None:
    jobs.run(self, search, list_id)
