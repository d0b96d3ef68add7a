"""Celery tasks of the downloads app: thin wrappers around ``downloads.services`` and
``downloads.notifications``."""

from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError

from archiveportal import jobs
from downloads import notifications, services
from downloads.models import DownloadRequest, Outbox
from queries.errors import ArchiveUnavailable


class PrepareTask(jobs.JobTask):
    job_model = DownloadRequest
    max_retries = 5
    transient_errors = (ArchiveUnavailable, OperationalError, OSError)


class DeliverEmailTask(jobs.JobTask):
    """Retries SMTP trouble for about half an hour (``jobs.backoff``) before the row is marked
    failed with its error."""

    job_model = Outbox
    max_retries = 10
    transient_errors = (SMTPException, OSError, OperationalError)


@shared_task(bind=True, base=PrepareTask, name="downloads.prepare_request", ignore_result=True)
def prepare_request(self, request_id: str) -> None:
    jobs.run(self, services.prepare_request, request_id)


@shared_task(bind=True, base=DeliverEmailTask, name="downloads.deliver_email", ignore_result=True)
def deliver_email(self, outbox_id: str) -> None:
    jobs.run(self, notifications.deliver, outbox_id)


@shared_task(name="downloads.expire_requests", ignore_result=True)
def expire_requests() -> int:
    return services.expire_requests()
