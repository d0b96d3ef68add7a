"""Digest periods: a day, an ISO week, or one evaluation; over once the next one has begun."""

from datetime import UTC, datetime

import pytest

from watches.periods import is_over, period_of


@pytest.mark.parametrize(
    ("frequency", "at", "period"),
    [
        ("daily", datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "2026-11-30"),
        ("weekly", datetime(2026, 11, 30, tzinfo=UTC), "2026-W49"),  # a Monday
        ("weekly", datetime(2026, 11, 29, tzinfo=UTC), "2026-W48"),  # the Sunday before
        ("weekly", datetime(2027, 1, 1, tzinfo=UTC), "2026-W53"),  # ISO year, not calendar
        ("immediate", datetime(2026, 11, 30, tzinfo=UTC), "evaluation-key"),
    ],
)
def test_the_period_of_a_moment(frequency, at, period):
    assert period_of(frequency, at, evaluation="evaluation-key") == period


@pytest.mark.parametrize(
    ("frequency", "period", "now", "over"),
    [
        ("daily", "2026-11-30", datetime(2026, 11, 30, 23, 59, tzinfo=UTC), False),
        ("daily", "2026-11-30", datetime(2026, 12, 1, tzinfo=UTC), True),
        ("weekly", "2026-W48", datetime(2026, 11, 29, 23, 0, tzinfo=UTC), False),
        ("weekly", "2026-W48", datetime(2026, 11, 30, tzinfo=UTC), True),
        ("weekly", "2026-W53", datetime(2027, 1, 4, tzinfo=UTC), True),
        ("immediate", "anything", datetime(2026, 11, 30, tzinfo=UTC), True),
    ],
)
def test_a_period_is_over_once_the_next_has_begun(frequency, period, now, over):
    assert is_over(frequency, period, now) is over
