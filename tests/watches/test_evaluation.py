"""Evaluating watches: each change a watched search selects is matched once, nothing is lost
or doubled, and a watch hears only what it may and what came after it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from archiveportal import jobs
from harvest.models import ChangeKind
from queries.models import SavedSearch
from tests.factories import SavedSearchFactory, UserFactory
from tests.watches.conftest import finished_run, record
from watches import services
from watches.models import Digest, Frequency, WatchMatch

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)


def test_a_change_the_search_selects_is_matched_once_however_often_it_is_evaluated(band6):
    in_search, outside = band6
    saved = SavedSearchFactory()
    watch = services.watch(user=saved.owner, saved=saved, frequency=Frequency.DAILY)
    wanted = record(in_search, ChangeKind.NEW)
    record(outside, ChangeKind.NEW)

    assert services.evaluate_watches(now=NOON) == 1
    assert services.evaluate_watches(now=NOON) == 0
    assert list(WatchMatch.objects.values_list("watch", "change")) == [(watch.pk, wanted.pk)]
    watch.refresh_from_db()
    assert watch.cursor == wanted.pk + 1  # both changes read


def test_a_new_watch_hears_only_of_changes_made_after_it(band6):
    in_search, _ = band6
    record(in_search, ChangeKind.NEW)
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.DAILY)
    assert services.evaluate_watches(now=NOON) == 0
    record(in_search, ChangeKind.CHANGED)
    assert services.evaluate_watches(now=NOON) == 1


def test_changes_of_a_harvest_still_running_wait_until_it_ends(band6):
    in_search, _ = band6
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.DAILY)
    running = finished_run(phase=jobs.Phase.RUNNING)
    record(in_search, ChangeKind.NEW, run=running)

    assert services.evaluate_watches(now=NOON) == 0
    running.phase = jobs.Phase.DONE
    running.save()
    assert services.evaluate_watches(now=NOON) == 1


def test_changes_of_a_failed_harvest_are_still_reported(band6):
    # A killed run's applied chunks are in the mirror; the run that resumes it will not
    # record them again.
    in_search, _ = band6
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.DAILY)
    record(in_search, ChangeKind.NEW, run=finished_run(phase=jobs.Phase.FAILED))
    assert services.evaluate_watches(now=NOON) == 1


def test_a_removed_row_is_not_reported(band6):
    in_search, _ = band6
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.DAILY)
    record(in_search, ChangeKind.REMOVED)
    assert services.evaluate_watches(now=NOON) == 0


def test_a_search_made_private_by_its_owner_goes_silent_for_other_watchers(band6):
    in_search, _ = band6
    saved = SavedSearchFactory(visibility=SavedSearch.Visibility.LAB)
    other = UserFactory()
    watch = services.watch(user=other, saved=saved, frequency=Frequency.DAILY)
    saved.visibility = SavedSearch.Visibility.PRIVATE
    saved.save()
    change = record(in_search, ChangeKind.NEW)

    assert services.evaluate_watches(now=NOON) == 0
    watch.refresh_from_db()
    assert watch.cursor == change.pk  # read, not kept for later


def test_nobody_watches_a_private_search_of_someone_else():
    saved = SavedSearchFactory()
    with pytest.raises(PermissionDenied, match="your own saved searches and lab-wide ones"):
        services.watch(user=UserFactory(), saved=saved, frequency=Frequency.DAILY)


def test_a_frequency_off_the_list_is_refused_with_the_accepted_ones():
    saved = SavedSearchFactory()
    with pytest.raises(ValidationError, match="immediate, daily, weekly"):
        services.watch(user=saved.owner, saved=saved, frequency="hourly")


@pytest.mark.parametrize(
    ("superuser", "visibility", "address", "allowed"),
    [
        (True, "lab", "lab@example.org", True),
        (False, "lab", "lab@example.org", False),
        (True, "private", "lab@example.org", False),
        (True, "lab", "", False),
    ],
)
def test_only_an_administrator_sends_a_lab_wide_search_to_the_list(
    settings, superuser, visibility, address, allowed
):
    settings.WATCHES_LIST_ADDRESS = address
    admin = UserFactory(is_superuser=superuser)
    saved = SavedSearchFactory(owner=admin, visibility=visibility)
    if allowed:
        assert services.watch(user=admin, saved=saved, frequency="daily", to_list=True).to_list
    else:
        with pytest.raises(ValidationError, match="WATCHES_LIST_ADDRESS"):
            services.watch(user=admin, saved=saved, frequency="daily", to_list=True)


def test_a_daily_digest_waits_for_the_end_of_the_day_and_gathers_all_of_a_members_searches(
    band6,
):
    in_search, _ = band6
    member = UserFactory()
    first = SavedSearchFactory(owner=member)
    second = SavedSearchFactory(owner=member, params={"band_list": "6 7"})
    for saved in (first, second):
        services.watch(user=member, saved=saved, frequency=Frequency.DAILY)
    record(in_search, ChangeKind.NEW)
    services.evaluate_watches(now=NOON)

    assert services.queue_digests(now=NOON) == []
    (digest,) = services.queue_digests(now=NEXT_DAY)
    assert (digest.recipient, digest.frequency, digest.period) == (
        f"user:{member.pk}",
        "daily",
        "2026-11-30",
    )
    assert digest.matches.count() == 2
    assert services.queue_digests(now=NEXT_DAY) == []  # queued once


def test_as_it_happens_is_queued_at_once_one_digest_per_evaluation(band6):
    in_search, _ = band6
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.IMMEDIATE)
    record(in_search, ChangeKind.NEW)
    services.evaluate_watches(now=NOON)
    (first,) = services.queue_digests(now=NOON)
    record(in_search, ChangeKind.CHANGED)
    services.evaluate_watches(now=NOON)
    (second,) = services.queue_digests(now=NOON)
    assert first.pk != second.pk and first.period != second.period


def test_a_match_that_arrives_after_its_digest_left_gets_a_follow_up_not_lost(band6):
    in_search, _ = band6
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.DAILY)
    record(in_search, ChangeKind.NEW)
    services.evaluate_watches(now=NOON)
    (sent,) = services.queue_digests(now=NEXT_DAY)
    Digest.objects.filter(pk=sent.pk).update(phase=jobs.Phase.DONE, started_at=NEXT_DAY)
    # A clock that stepped back files one more match under the day already sent.
    record(in_search, ChangeKind.CHANGED)
    services.evaluate_watches(now=NOON)

    (follow_up,) = services.queue_digests(now=NEXT_DAY)
    assert follow_up.period == "2026-11-30#2" and follow_up.matches.count() == 1


def test_two_evaluations_at_once_send_one_digest_and_leave_no_empty_one(band6, monkeypatch):
    """The beat's evaluation and a harvest's can list the same matches; whichever attaches them
    second must not open a digest that stays queued with nothing in it."""
    in_search, _ = band6
    saved = SavedSearchFactory()
    services.watch(user=saved.owner, saved=saved, frequency=Frequency.IMMEDIATE)
    record(in_search, ChangeKind.NEW)
    services.evaluate_watches(now=NOON)
    (match,) = WatchMatch.objects.all()
    taken = Digest.objects.create(
        recipient=match.recipient, frequency=match.frequency, period=match.period, phase="done"
    )
    opened = services._open_digest

    def other_evaluation_attaches_first(*args):
        WatchMatch.objects.filter(pk=match.pk).update(digest=taken)
        return opened(*args)

    monkeypatch.setattr(services, "_open_digest", other_evaluation_attaches_first)

    assert services.queue_digests(now=NOON) == []
    assert list(Digest.objects.all()) == [taken]
