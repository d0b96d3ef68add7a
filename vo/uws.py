"""TAP async jobs (UWS 1.1): create, run, abort, change, delete, execute and clean up.

A job is created PENDING with its parameters checked (a query that cannot run is refused at
once, as a sync query would be); ``PHASE=RUN`` queues it for a worker, which streams the result
row by row into a file (constant memory whatever the row count) and publishes it with the
terminal phase. Deleting a job, or its destruction time passing, removes the row and the file.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from archiveportal import jobs, votable
from vo import adql, catalogue, execute
from vo.models import ABORTED, PENDING, TapJob

log = logging.getLogger(__name__)


class JobRefused(ValueError):
    """A change UWS does not allow in the job's phase, or a bad value: the message says which."""


def results_dir() -> Path:
    path = Path(settings.VO_TAP_RESULTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def result_path(job: TapJob) -> Path:
    return results_dir() / f"{job.pk}.vot"


def check_query(query: str) -> adql.Translation:
    try:
        return adql.translate(query, catalogue.tables(), vendor=connection.vendor)
    except adql.AdqlError as refused:
        raise JobRefused(f"QUERY: {refused}") from None


def create(
    *, owner, query: str, lang: str, maxrec: int, response_format: str, run_id: str = ""
) -> TapJob:
    # The query is checked when the job runs: UWS reports a bad one as the job's ERROR phase.
    now = timezone.now()
    return TapJob.objects.create(
        owner=owner if owner is not None and owner.is_authenticated else None,
        run_id=run_id[:64],
        query=query,
        lang=lang[:16],
        maxrec=maxrec,
        response_format=response_format,
        execution_duration=settings.VO_TAP_EXECUTION_DURATION,
        destruction=now + timedelta(seconds=settings.VO_TAP_RETENTION_SECONDS),
        phase=PENDING,
    )


def run(job: TapJob) -> None:
    with transaction.atomic():
        current = TapJob.objects.select_for_update().get(pk=job.pk)
        if current.phase != PENDING:
            if current.phase in ("queued", "running", "done"):
                return  # UWS: asking a started job to run again changes nothing
            raise JobRefused(f"a job in phase {current.uws_phase} cannot be run")
        current.phase = jobs.Phase.QUEUED
        current.save(update_fields=["phase", "updated_at"])
        jobs.dispatch(current)


def abort(job: TapJob) -> None:
    with transaction.atomic():
        current = TapJob.objects.select_for_update().get(pk=job.pk)
        if current.phase in (PENDING, "queued", "running"):
            current.phase = ABORTED
            current.finished_at = timezone.now()
            current.lease_expires_at = None
            current.save(update_fields=["phase", "finished_at", "lease_expires_at", "updated_at"])
    jobs.stop_heartbeat(job.pk)


def set_destruction(job: TapJob, value: str) -> None:
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise JobRefused(
            "DESTRUCTION must be an ISO 8601 instant such as 2026-12-01T12:00:00Z, "
            f"not {value[:40]!r}"
        ) from None
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.utc)
    limit = timezone.now() + timedelta(seconds=settings.VO_TAP_RETENTION_SECONDS)
    TapJob.objects.filter(pk=job.pk).update(destruction=min(when, limit))


def set_execution_duration(job: TapJob, value: str) -> None:
    try:
        seconds = int(value)
    except ValueError:
        raise JobRefused(f"EXECUTIONDURATION must be whole seconds, not {value[:40]!r}") from None
    if seconds < 0:
        raise JobRefused("EXECUTIONDURATION must be >= 0 seconds")
    if job.phase != PENDING:
        raise JobRefused(f"EXECUTIONDURATION can change only while PENDING, not {job.uws_phase}")
    limit = settings.VO_TAP_EXECUTION_DURATION
    TapJob.objects.filter(pk=job.pk).update(execution_duration=min(seconds or limit, limit))


def set_parameters(job: TapJob, changes: dict[str, str]) -> None:
    """QUERY, LANG, MAXREC, FORMAT and RUNID may change while the job is PENDING (UWS 1.1)."""
    if job.phase != PENDING:
        raise JobRefused(f"parameters can change only while PENDING, not {job.uws_phase}")
    fields = {"QUERY": "query", "LANG": "lang", "MAXREC": "maxrec", "FORMAT": "response_format",
              "RUNID": "run_id"}  # fmt: skip
    update = {fields[name]: value for name, value in changes.items()}
    if "maxrec" in update:
        update["maxrec"] = int(update["maxrec"])
    if "run_id" in update:
        update["run_id"] = update["run_id"][:64]
    TapJob.objects.filter(pk=job.pk).update(**update)


def delete(job: TapJob) -> None:
    abort(job)
    result_path(job).unlink(missing_ok=True)
    TapJob.objects.filter(pk=job.pk).delete()


def execute_job(job_id: str) -> None:
    """The worker's side: run the query into the result file, then publish COMPLETED or ERROR."""
    job = jobs.claim(TapJob, job_id)
    if job is None:
        return
    target = result_path(job)
    partial = target.with_suffix(".part")
    try:
        if not job.lang.upper().startswith("ADQL"):
            raise JobRefused(f"LANG={job.lang[:40]!r} is not served; use LANG=ADQL")
        if not job.query.strip():
            raise JobRefused("QUERY is missing: send QUERY=<an ADQL SELECT statement>")
        translation = check_query(job.query)
        timeout_ms = (job.execution_duration or settings.VO_TAP_EXECUTION_DURATION) * 1000
        counted = execute.Counter()
        with partial.open("wb") as handle:
            rows = execute.stream(
                translation, maxrec=job.maxrec, timeout_ms=timeout_ms, counter=counted
            )
            for chunk in votable.stream(
                translation.columns, rows, overflow=lambda: counted.overflow
            ):
                handle.write(chunk)
        os.replace(partial, target)
    except (JobRefused, execute.QueryFailed) as error:
        partial.unlink(missing_ok=True)
        jobs.fail(TapJob, str(job.pk), str(error))
        return
    except Exception:
        partial.unlink(missing_ok=True)
        jobs.release(job)
        raise
    if not jobs.finish(job, result_rows=counted.rows, overflow=counted.overflow):
        target.unlink(missing_ok=True)  # aborted or deleted meanwhile: no result to keep


def destroy_expired(*, now: datetime | None = None) -> int:
    """Remove jobs whose destruction time has passed, with their result files."""
    now = now or timezone.now()
    removed = 0
    for job in TapJob.objects.filter(destruction__lte=now):
        delete(job)
        removed += 1
    if removed:
        log.info("removed %d TAP jobs past their destruction time", removed)
    return removed
