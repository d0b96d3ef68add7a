"""Celery tasks of the queries app: thin wrappers around ``queries.services``."""

from celery import shared_task

from archiveportal import jobs
from queries import counts
from queries.models import Search
from queries.services import execute_search


class SearchTask(jobs.JobTask):
    job_model = Search
    max_retries = 3


@shared_task(bind=True, base=SearchTask, name="queries.run_search", ignore_result=True)
def run_search(self, search_id: str) -> None:
    # An unavailable archive is retried like the database; once retries are spent the search
    # finishes with the mirror's answer and a notice (``execute_search``).
    def work(job_id: str) -> None:
        execute_search(job_id, on_transient=lambda search, exc: jobs.retry(self, search.pk, exc))

    jobs.run(self, work, search_id)


@shared_task(name="queries.prune_change_log", ignore_result=True)
def prune_change_log() -> None:
    counts.prune()
