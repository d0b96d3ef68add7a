"""The job-row pattern every long-running piece of work follows.

A job (a search, a download request, a harvest) is a database row with a *phase*. The row's UUID
is also its Celery task id, the task receives nothing but that id, and the database (never the
broker) is the record. The invariants this module keeps:

* a row is dispatched only after the transaction that created it commits (``dispatch``);
* a worker *claims* the row under a row lock and a short lease before doing slow work, so two
  deliveries of the same message never both run it (``claim``); while the work runs a heartbeat
  thread renews the lease (every ``JOBS_HEARTBEAT_SECONDS``, for ``JOBS_LEASE_SECONDS``), so a
  long job keeps its row and a killed worker's row is free again within one lease;
* results are published atomically together with the terminal phase (``finish``), so running
  a task twice yields one result;
* a worker that dies leaves a row whose lease expires; the periodic sweeper puts it back in the
  queue (``sweep``), as it does for a queued row whose message was lost (broker down or
  restarted without persistence). The heartbeat only renews the lease of the attempt it was
  started for, so a run that lost its row to a newer attempt cannot keep it alive;
* every job task runs its work through ``run``: only the task's ``transient_errors`` are retried,
  all by one rule (``retry``: the row handed back, then ``backoff``), and anything else marks the
  row failed with a message a person can act on (``JobTask.on_failure``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from celery import Task, current_app
from django.apps import apps
from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone

log = logging.getLogger(__name__)


class Phase(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


TERMINAL_PHASES = frozenset({Phase.DONE, Phase.FAILED})


class Job(models.Model):
    """Abstract base of every job row. Subclasses name their Celery task in ``task_name``."""

    task_name: ClassVar[str] = ""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phase = models.CharField(
        max_length=16, choices=Phase.choices, default=Phase.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


J = TypeVar("J", bound=Job)


def dispatch(job: Job) -> None:
    """Queue ``job``'s task once the current transaction commits (immediately outside one)."""
    task_name = type(job).task_name
    job_id = str(job.pk)

    def send() -> None:
        try:
            current_app.send_task(task_name, args=[job_id], task_id=job_id)
        except Exception:  # broker down: the sweeper re-sends queued rows, nothing is lost
            log.warning(
                "could not dispatch %s %s; the sweeper will retry", task_name, job_id, exc_info=True
            )

    transaction.on_commit(send)


def claim(model: type[J], job_id: str, *, lease_seconds: int | None = None) -> J | None:
    """Take ``job_id`` for this worker, or return None when it is not ours to run.

    A row is claimable when it is queued, or running with an expired lease (its worker died).
    """
    lease = timedelta(seconds=lease_seconds or settings.JOBS_LEASE_SECONDS)
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            log.warning("job %s %s does not exist", model.__name__, job_id)
            return None
        stale = job.phase == Phase.RUNNING and (
            job.lease_expires_at is None or job.lease_expires_at <= now
        )
        if job.phase != Phase.QUEUED and not stale:
            log.info("job %s %s is %s; not claiming", model.__name__, job_id, job.phase)
            return None
        job.phase = Phase.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.lease_expires_at = now + lease
        job.save(
            update_fields=["phase", "attempts", "started_at", "lease_expires_at", "updated_at"]
        )
    log.info("claimed %s %s (attempt %d)", model.__name__, job_id, job.attempts)
    start_heartbeat(job, lease_seconds=lease.total_seconds())
    return job


def renew(job: Job, *, lease_seconds: float | None = None) -> bool:
    """Extend ``job``'s lease if this attempt still holds it; False when it lost the row."""
    lease = timedelta(seconds=lease_seconds or settings.JOBS_LEASE_SECONDS)
    return bool(
        type(job)
        .objects.filter(pk=job.pk, phase=Phase.RUNNING, attempts=job.attempts)
        .update(lease_expires_at=timezone.now() + lease)
    )


_heartbeats: dict[str, threading.Event] = {}
_heartbeats_lock = threading.Lock()


def start_heartbeat(job: Job, *, lease_seconds: float | None = None) -> None:
    """Renew ``job``'s lease in a daemon thread until ``stop_heartbeat`` or the row is lost.

    Started by ``claim``; stopped by ``finish``, ``fail``, ``release`` and by ``JobTask`` after
    every run, so no task has to remember it. A database error while renewing is logged and
    retried at the next beat (the lease outlives a short outage by design).
    """
    key = str(job.pk)
    every = settings.JOBS_HEARTBEAT_SECONDS
    stop = threading.Event()
    with _heartbeats_lock:
        previous = _heartbeats.pop(key, None)
        if previous is not None:
            previous.set()
        _heartbeats[key] = stop

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not renew(job, lease_seconds=lease_seconds):
                        log.info("heartbeat of %s %s stopped: not running", type(job).__name__, key)
                        return
                except Exception:
                    log.warning("heartbeat of %s %s could not renew", type(job).__name__, key)
                finally:
                    # No idle connection between beats (a restarted database, a test teardown).
                    connection.close()
        finally:
            connection.close()
            with _heartbeats_lock:
                if _heartbeats.get(key) is stop:
                    del _heartbeats[key]

    threading.Thread(target=beat, name=f"heartbeat-{key}", daemon=True).start()


def stop_heartbeat(job_id: object) -> None:
    """Stop renewing the lease of ``job_id`` (it is finished, failed or handed back)."""
    with _heartbeats_lock:
        stop = _heartbeats.pop(str(job_id), None)
    if stop is not None:
        stop.set()


def finish(job: J, *, publish: Callable[[J], Any] | None = None, **fields: Any) -> bool:
    """Publish the result and mark the job done, atomically; False if it was not ours any more.

    ``publish`` runs inside the same transaction as the phase change, after re-reading the row
    under lock, so a duplicate run cannot publish a second result.
    """
    model = type(job)
    stop_heartbeat(job.pk)
    with transaction.atomic():
        current = model.objects.select_for_update().get(pk=job.pk)
        if current.phase != Phase.RUNNING:
            log.info("job %s %s already %s; result dropped", model.__name__, job.pk, current.phase)
            return False
        for name, value in fields.items():
            setattr(current, name, value)
        if publish is not None:
            publish(current)
        current.phase = Phase.DONE
        current.finished_at = timezone.now()
        current.lease_expires_at = None
        current.save()
    for name in [*fields, "phase", "finished_at", "lease_expires_at"]:
        setattr(job, name, getattr(current, name))
    return True


def fail(model: type[Job], job_id: str, message: str) -> None:
    """Mark a job failed with a message a person can act on."""
    stop_heartbeat(job_id)
    with transaction.atomic():
        updated = (
            model.objects.select_for_update()
            .filter(pk=job_id)
            .exclude(phase__in=TERMINAL_PHASES)
            .update(
                phase=Phase.FAILED,
                error_message=message[:2000],
                finished_at=timezone.now(),
                lease_expires_at=None,
                updated_at=timezone.now(),
            )
        )
    if updated:
        log.info("job %s %s failed", model.__name__, job_id)


def job_models() -> list[type[Job]]:
    """Every concrete job model installed."""
    return [m for m in apps.get_models() if issubclass(m, Job) and m.task_name]


def sweep(*, queued_grace_seconds: int | None = None) -> int:
    """Re-dispatch jobs whose worker died (lease expired) or whose message was lost.

    Returns how many rows were re-sent. Safe to run concurrently: ``claim`` decides who runs.
    With the broker down nothing can be sent: the rows stay as they are for the next sweep.
    """
    if queued_grace_seconds is None:
        queued_grace_seconds = settings.JOBS_QUEUED_GRACE_SECONDS
    now = timezone.now()
    resent = 0
    for model in job_models():
        stuck = model.objects.filter(
            models.Q(phase=Phase.RUNNING, lease_expires_at__lte=now)
            | models.Q(
                phase=Phase.QUEUED, updated_at__lte=now - timedelta(seconds=queued_grace_seconds)
            )
        ).only("pk")
        for job in stuck:
            current_app.send_task(model.task_name, args=[str(job.pk)])
            # Touch the row so a queued one is not re-sent on every sweep while it waits.
            model.objects.filter(pk=job.pk, phase=Phase.QUEUED).update(updated_at=now)
            resent += 1
            log.info("sweeper re-sent %s %s", model.__name__, job.pk)
    return resent


class JobTask(Task):
    """Base for job tasks (whose body is ``run``): marks the row failed when the task fails."""

    job_model: type[Job] | None = None
    transient_errors: tuple[type[BaseException], ...] = (OperationalError,)
    max_retries = 5
    acks_late = True
    reject_on_worker_lost = True

    def after_return(self, status, retval, task_id, args, kwargs, einfo) -> None:
        if args:
            stop_heartbeat(args[0])

    def on_failure(
        self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any
    ) -> None:
        if self.job_model is not None and args:
            fail(self.job_model, args[0], user_message(exc))


def user_message(exc: BaseException) -> str:
    """A message fit for the person who owns the job: never a traceback."""
    text = str(exc).strip()
    return text if text and len(text) < 500 else f"The job failed ({type(exc).__name__})."


def release(job: Job) -> None:
    """Hand a claimed job back to the queue so that a retry can claim it again."""
    stop_heartbeat(job.pk)
    type(job).objects.filter(pk=job.pk, phase=Phase.RUNNING).update(
        phase=Phase.QUEUED, lease_expires_at=None, updated_at=timezone.now()
    )


def backoff(retries: int) -> int:
    """Seconds before retry number ``retries + 1``: 2, 4, 8, ... up to ten minutes."""
    return min(600, 2 ** (retries + 1))


def retry(task: JobTask, job_id: object, exc: BaseException) -> None:
    """Hand the row back and retry ``task`` after ``backoff`` while retries remain.

    Returns when they are spent: the caller then raises (``JobTask`` marks the row failed) or
    finishes without what failed (a search keeps the mirror's answer). The row is handed back
    first so that the retried delivery can claim it; with the database down that fails, the
    lease runs out instead and the sweeper re-sends the row.
    """
    if task.request.retries >= task.max_retries:
        return
    with suppress(OperationalError):
        release(task.job_model(pk=job_id))
    raise task.retry(exc=exc, countdown=backoff(task.request.retries))


def run(task: JobTask, work: Callable[[str], object], job_id: str) -> None:
    """The body of every job task: ``work(job_id)``, its transient errors retried by ``retry``."""
    try:
        work(job_id)
    except task.transient_errors as exc:
        retry(task, job_id, exc)
        raise
