"""A TAP async job (UWS 1.1) is a job row like a search or a download request.

The portal's job phases map onto UWS's: ``pending`` (created, not yet asked to run: the sweeper
leaves it alone), ``queued``, ``running`` (EXECUTING), ``done`` (COMPLETED), ``failed`` (ERROR)
and ``aborted``. The result is a VOTable file written under ``VO_TAP_RESULTS_DIR`` and served
from there; a job and its file are removed once its destruction time has passed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from archiveportal.jobs import Job

PENDING = "pending"
ABORTED = "aborted"
UWS_PHASES = {
    PENDING: "PENDING",
    "queued": "QUEUED",
    "running": "EXECUTING",
    "done": "COMPLETED",
    "failed": "ERROR",
    ABORTED: "ABORTED",
}


class TapJob(Job):
    task_name = "vo.run_tap_job"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tap_jobs",
    )
    run_id = models.CharField(max_length=64, blank=True)
    query = models.TextField(blank=True)
    lang = models.CharField(max_length=16, default="ADQL")
    maxrec = models.PositiveIntegerField()
    response_format = models.CharField(max_length=16, default="votable")
    execution_duration = models.PositiveIntegerField()  # seconds; 0 = no limit
    destruction = models.DateTimeField(db_index=True)
    result_rows = models.PositiveBigIntegerField(null=True, blank=True)
    overflow = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    @property
    def uws_phase(self) -> str:
        return UWS_PHASES.get(self.phase, "UNKNOWN")
