"""Watches on saved searches, what each watch matched, the digests that tell members, and the
secret calendar feeds.

The record is the database, as for every job: a ``WatchMatch`` row per (watch, mirror change)
is created once (unique) and points at the one ``Digest`` that carries it; a digest is a job row
unique per (recipient, frequency, period), so a re-run evaluation or a re-sent task can neither
lose a change nor name it twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from archiveportal.jobs import Job


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate", "As it happens"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class Watch(models.Model):
    """A member's wish to hear about what changes in a saved search's results.

    ``cursor`` is the id of the last mirror change (``harvest.ObservationChange``) this watch has
    been evaluated against: evaluation reads only changes after it, so a new watch starts with
    what comes next rather than the mirror's whole history.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches"
    )
    saved_search = models.ForeignKey(
        "queries.SavedSearch", on_delete=models.CASCADE, related_name="watches"
    )
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.DAILY)
    # An administrator's watch on a lab-wide search may go to the lab's list address instead.
    to_list = models.BooleanField(default=False)
    cursor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "saved_search"], name="unique_watch_per_search")
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.saved_search_id} ({self.frequency})"


class Digest(Job):
    """One email per recipient, frequency and period, sent exactly once (a job row).

    ``recipient`` is ``user:<pk>`` or ``list`` (the lab's list address); ``period`` is the
    day (``2026-11-30``), ISO week (``2026-W49``) or, for "as it happens", the evaluation that
    found the changes.
    """

    task_name = "watches.send_digest"

    recipient = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="digests",
    )
    frequency = models.CharField(max_length=16, choices=Frequency.choices)
    period = models.CharField(max_length=64)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "frequency", "period"], name="unique_digest_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.frequency} digest {self.period} for {self.recipient} ({self.phase})"


class WatchMatch(models.Model):
    """A mirror change that matched a watch's search when it was evaluated."""

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="matches")
    change = models.ForeignKey(
        "harvest.ObservationChange", on_delete=models.CASCADE, related_name="watch_matches"
    )
    recipient = models.CharField(max_length=32)
    frequency = models.CharField(max_length=16, choices=Frequency.choices)
    period = models.CharField(max_length=64)
    digest = models.ForeignKey(
        Digest, null=True, blank=True, on_delete=models.SET_NULL, related_name="matches"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["watch", "change"], name="unique_match_per_change")
        ]
        indexes = [models.Index(fields=["digest", "recipient", "frequency", "period"])]

    def __str__(self) -> str:
        return f"watch {self.watch_id} matched change {self.change_id}"


class CalendarFeed(models.Model):
    """A member's secret iCal address: only its SHA-256 is stored, so the address is shown once
    and a new one replaces it (which is how a member revokes a leaked address)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"calendar feed of {self.user}"
