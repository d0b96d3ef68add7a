"""The record of every harvest of the upstream archive and of what each one changed.

A ``HarvestRun`` is a job row (``archiveportal.jobs.Job``: phase, lease, heartbeat, attempts,
error message) so the beat task and the command share one claim/finish/fail discipline and a
killed worker's run is picked up again by the sweeper. Its ``cursor`` is the last
``(lastModified, obs_id)`` whose chunk was applied *and committed together with the cursor*,
so a run killed at any point resumes after it with no duplicate and no gap.

``ObservationChange`` is the journal the watches and digests read ("changes with id greater
than my cursor"): one row per observation and kind of change, unique per run so re-applying a
chunk after a crash never writes a second row.
"""

from __future__ import annotations

from django.db import models

from archiveportal.jobs import Job


class HarvestMode(models.TextChoices):
    INCREMENTAL = "incremental", "Incremental (rows modified since the last run)"
    FULL = "full", "Full sweep (also notices rows removed upstream)"


class HarvestRun(Job):
    """One harvest of ``archive_url``'s ``ivoa.obscore`` into the mirror.

    ``phase`` (from ``Job``) is the state: queued, running, done (= succeeded), failed.
    """

    task_name = "harvest.run_harvest"

    archive_url = models.URLField(max_length=500)
    mode = models.CharField(
        max_length=16, choices=HarvestMode.choices, default=HarvestMode.INCREMENTAL
    )
    dry_run = models.BooleanField(default=False)
    # Lower bound on upstream lastModified (exclusive); None = from the beginning.
    since = models.DateTimeField(null=True, blank=True)
    # The last (lastModified, obs_id) applied; the next chunk starts strictly after it.
    cursor_last_modified = models.DateTimeField(null=True, blank=True)
    cursor_obs_id = models.CharField(max_length=128, blank=True)
    rows_seen = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    new_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    released_count = models.PositiveIntegerField(default=0)
    # Set once every page is applied (the final step then runs: hierarchy, releases, ANALYZE).
    chunks_done = models.BooleanField(default=False)
    # A first harvest into an empty mirror loads without the mirror's secondary indexes and
    # builds them once at the end: their definitions wait here (kept if the run is killed).
    deferred_indexes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["archive_url", "-created_at"], name="harvest_url_recent")]

    def __str__(self) -> str:
        return f"{self.mode} harvest of {self.archive_url} ({self.phase})"

    @property
    def cursor(self) -> tuple | None:
        if self.cursor_last_modified is None and not self.cursor_obs_id:
            return None
        return (self.cursor_last_modified, self.cursor_obs_id)


class ChangeKind(models.TextChoices):
    NEW = "new", "New observation"
    CHANGED = "changed", "Observation changed"
    RELEASED = "released", "Became public"
    RELEASE_MOVED = "release_moved", "Release date moved"
    REMOVED = "removed", "Removed upstream"


class ObservationChange(models.Model):
    """One change a harvest applied to one observation row (see ``harvest/changes.py``).

    Release kinds are decided per member OUS with the single release rule
    (``queries.models.release_passed``) and recorded on every observation row of that MOUS.
    """

    # Indexed by the unique constraint below, which leads with it.
    run = models.ForeignKey(
        HarvestRun, on_delete=models.CASCADE, related_name="changes", db_index=False
    )
    obs_id = models.CharField(max_length=128)
    # Only ``member_ous_uid`` is looked up (the iCal feed's moved releases, by equality): the
    # journal keeps no other index. A first load writes a million rows here, and each index
    # cost a second to build, and every later change an entry to keep.
    member_ous_uid = models.CharField(max_length=64)
    proposal_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    old_release_date = models.DateTimeField(null=True, blank=True)
    new_release_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["member_ous_uid"], name="change_member_ous_uid")]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "obs_id", "kind"], name="unique_change_per_run_obs_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.obs_id}"


class SweptObservation(models.Model):
    """An obs_id a full sweep has seen upstream, committed with the chunk that saw it, so that
    a resumed sweep still knows every row it saw before it was killed. At the end of the sweep
    the mirror's rows not listed here are the ones removed upstream; the rows are then deleted.
    Internal to the harvester: watches read ``ObservationChange`` only."""

    run = models.ForeignKey(HarvestRun, on_delete=models.CASCADE, related_name="+")
    obs_id = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "obs_id"], name="unique_swept_obs_per_run")
        ]

    def __str__(self) -> str:
        return self.obs_id
