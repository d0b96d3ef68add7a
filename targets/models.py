"""Target lists: an uploaded list of source names or positions, searched row by row by a worker.

A ``TargetList`` is a job row (``archiveportal.jobs``); each line of the upload is a ``TargetRow``
that keeps its line number, its text and, once the worker has been through it, either a cone
(``ra``, ``dec``, ``radius`` in ICRS degrees) and its match count, or the reason it could not be
searched. Rows are written one by one as the worker goes, so the page shows progress and a
worker that dies leaves every finished row in place for the next attempt.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from archiveportal.jobs import Job


class TargetList(Job):
    task_name = "targets.search_targets"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="target_lists"
    )
    name = models.CharField(max_length=200)
    # The mirror state its TargetMatch rows were computed at (``selectors.mirror_stamp``);
    # empty until they are.
    matched_stamp = models.CharField(max_length=64, blank=True, default="")
    # Whether every stored match had its project and member OUS when stored: only then do its
    # ``TargetOUS`` rows stand for the result's (project, member OUS) pairs. A harvest may link
    # new rows to the hierarchy after inserting them, which on SQLite does not move the stamp.
    matches_linked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class RowStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SEARCHED = "searched", "Searched"
    UNRESOLVED = "unresolved", "Name not resolved"
    INVALID = "invalid", "Not understood"


class TargetRow(models.Model):
    target_list = models.ForeignKey(TargetList, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField()  # the line of the upload, from 1
    text = models.CharField(max_length=300)  # the line as uploaded (cut), for the reason shown
    label = models.CharField(max_length=200)  # what the `target` column shows
    name = models.CharField(max_length=200, blank=True)  # a name the worker resolves
    ra = models.FloatField(null=True, blank=True)
    dec = models.FloatField(null=True, blank=True)
    radius = models.FloatField(null=True, blank=True)  # degrees
    status = models.CharField(
        max_length=12, choices=RowStatus.choices, default=RowStatus.PENDING, db_index=True
    )
    reason = models.TextField(blank=True)
    match_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["target_list", "number"], name="unique_target_row")
        ]

    def __str__(self) -> str:
        return f"{self.target_list_id}:{self.number} {self.label}"


class TargetMatch(models.Model):
    """An observation of the mirror in one of a list's cones (``TargetList.matched_stamp``).

    ``observation_id`` is a plain column, not a foreign key: the mirror's writers (loader,
    harvest) delete observations in bulk SQL that knows nothing of target lists, and a match
    whose observation is gone simply finds no row."""

    target_list = models.ForeignKey(
        TargetList, on_delete=models.CASCADE, related_name="matches", db_index=False
    )
    observation_id = models.BigIntegerField()
    # Copied from the observation when stored (and current with it: a change of any of them
    # moves the stamp, ``selectors.mirror_stamp``): what a search over the list combined with
    # a band, and the project view's source counts, read here instead of joining the mirror.
    project_id = models.BigIntegerField(null=True)
    member_ous_id = models.BigIntegerField(null=True)
    band_mask = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_list", "observation_id"], name="unique_target_match"
            )
        ]
        indexes = [
            models.Index(
                fields=["target_list", "member_ous_id", "observation_id"], name="target_match_mous"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_list_id}:{self.observation_id}"


class TargetOUS(models.Model):
    """A (project, member OUS) pair of a list's matches, with the union of its matched rows'
    bands: the project view of a search over the list pages projects here (tens of thousands
    of pairs) instead of reducing the matches (hundreds of thousands of rows) on every page.
    Written with the matches, under the same stamp."""

    target_list = models.ForeignKey(
        TargetList, on_delete=models.CASCADE, related_name="ouses", db_index=False
    )
    project_id = models.BigIntegerField(null=True)
    # The project's code (a project's code never changes): projects are ranked by it here.
    project_code = models.CharField(max_length=64, blank=True, default="")
    member_ous_id = models.BigIntegerField(null=True)
    band_mask = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["target_list", "project_code", "project_id", "member_ous_id", "band_mask"],
                name="target_ous_pairs",
            )
        ]

    def __str__(self) -> str:
        return f"{self.target_list_id}:{self.project_id}/{self.member_ous_id}"


class TargetProject(models.Model):
    """A project with matches of a list, its code, and the union of its matched rows' bands:
    the project view counts and pages a search over the list here (11,000 rows for a long
    list) before reading the page's pairs in ``TargetOUS``. Written with the matches."""

    target_list = models.ForeignKey(
        TargetList, on_delete=models.CASCADE, related_name="projects", db_index=False
    )
    project_id = models.BigIntegerField()
    code = models.CharField(max_length=64)
    band_mask = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["target_list", "code", "project_id", "band_mask"], name="target_projects"
            )
        ]

    def __str__(self) -> str:
        return f"{self.target_list_id}:{self.code}"


class TargetBandCount(models.Model):
    """How many of a list's matches have each ``band_mask``: a search over the list alone or
    with a band list is counted by summing a few of these rows (counting the 200,000 matches
    of a long list from their index took 10-15 ms a page). Written with the matches."""

    target_list = models.ForeignKey(
        TargetList, on_delete=models.CASCADE, related_name="band_counts", db_index=False
    )
    band_mask = models.PositiveIntegerField()
    matches = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_list", "band_mask"], name="unique_target_band_count"
            )
        ]

    def __str__(self) -> str:
        return f"{self.target_list_id}:{self.band_mask} {self.matches}"
