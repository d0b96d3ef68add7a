"""Which digest period a moment belongs to, and whether that period is over.

One rule for the three frequencies, on the portal clock in UTC (the portal's ``TIME_ZONE``):
a daily period is a calendar day (``2026-11-30``), a weekly one an ISO week (``2026-W49``,
Monday to Sunday), and "as it happens" is one evaluation of the watches (its own key, always
over). Keys of one frequency sort in time order, so "over" is a string comparison.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from watches.models import Frequency


def period_of(frequency: str, at: datetime, *, evaluation: str) -> str:
    if frequency == Frequency.DAILY:
        return at.date().isoformat()
    if frequency == Frequency.WEEKLY:
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    return evaluation


def is_over(frequency: str, period: str, now: datetime) -> bool:
    if frequency == Frequency.IMMEDIATE:
        return True
    return period < period_of(frequency, now, evaluation="")


def new_evaluation(now: datetime) -> str:
    """The period key of one evaluation for "as it happens" watches: unique, and readable."""
    return f"{now:%Y-%m-%dT%H:%M:%S}Z-{uuid.uuid4().hex[:8]}"
