"""Celery tasks of the watches app: thin wrappers around ``watches.services`` and
``watches.digests``."""

from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError

from archiveportal import jobs
from watches import digests, services
from watches.models import Digest


class SendDigestTask(jobs.JobTask):
    job_model = Digest
    max_retries = 10
    transient_errors = (SMTPException, OSError, OperationalError)


@shared_task(name="watches.evaluate", ignore_result=True)
def evaluate() -> int:
    """After a harvest and on schedule: match new changes, then queue the digests now due."""
    made = services.evaluate_watches()
    services.queue_digests()
    return made


@shared_task(bind=True, base=SendDigestTask, name="watches.send_digest", ignore_result=True)
def send_digest(self, digest_id: str) -> None:
    jobs.run(self, digests.deliver, digest_id)
