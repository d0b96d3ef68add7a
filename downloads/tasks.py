"""Celery tasks of the downloads app: thin wrappers around ``downloads.services`` and
``downloads.notifications``."""

from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError

from archiveportal.jobs import JobTask
from downloads.models import DownloadRequest, Outbox
from queries.errors import ArchiveUnavailable


class PrepareTask(JobTask):
    job_model = DownloadRequest
    max_retries = 5
    transient_errors = (ArchiveUnavailable, OperationalError, OSError)


class DeliverEmailTask(JobTask):
    """Retries SMTP trouble for about an hour before the row is marked failed with its error."""

    job_model = Outbox
    max_retries = 10
    transient_errors = (SMTPException, OSError, OperationalError)


def _backoff(retries: int) -> int:
    return min(600, 2 ** (retries + 2))


@shared_task(bind=True, base=PrepareTask, name="downloads.prepare_request", ignore_result=True)
def prepare_request(self, request_id: str) -> None:
    from downloads import services

    try:
        services.prepare_request(request_id)
    except self.transient_errors as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        raise


@shared_task(bind=True, base=DeliverEmailTask, name="downloads.deliver_email", ignore_result=True)
def deliver_email(self, outbox_id: str) -> None:
    from downloads import notifications

    try:
        notifications.deliver(outbox_id)
    except self.transient_errors as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        raise


@shared_task(name="downloads.expire_requests", ignore_result=True)
def expire_requests() -> int:
    from downloads import services

    return services.expire_requests()
