"""Celery tasks of the downloads app: thin wrappers around ``downloads.requests``."""

from celery import shared_task

from archiveportal.jobs import JobTask
from downloads.models import DownloadRequest
from queries.errors import ArchiveUnavailable


class PrepareTask(JobTask):
    job_model = DownloadRequest
    max_retries = 5

    def __init__(self):
        from smtplib import SMTPException

        from django.db import OperationalError

        self.transient_errors = (ArchiveUnavailable, OperationalError, SMTPException, OSError)


@shared_task(bind=True, base=PrepareTask, name="downloads.prepare_request", ignore_result=True)
def prepare_request(self, request_id: str) -> None:
    from downloads import requests

    try:
        requests.prepare_request(request_id)
    except self.transient_errors as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=min(300, 2 ** (self.request.retries + 2))) from exc
        raise


@shared_task(name="downloads.expire_requests", ignore_result=True)
def expire_requests() -> int:
    from downloads import requests

    return requests.expire_requests()
