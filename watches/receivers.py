"""Evaluate the watches as soon as a harvest has finished; the beat schedule catches up when the
broker could not take the task."""

import logging

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)


def on_harvest_finished(sender, run, **kwargs) -> None:
    def send() -> None:
        try:
            current_app.send_task("watches.evaluate")
        except Exception:
            log.warning("could not queue watch evaluation after harvest %s", run.pk)

    transaction.on_commit(send)
