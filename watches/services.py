"""Watching saved searches: the writes (watch, unwatch, evaluate, queue digests, feed tokens).

Evaluation (``evaluate_watches``) reads the harvest's change journal
(``harvest.ObservationChange``) after each watch's cursor and records, per watch, the changes
whose observation the saved search selects *now* (its parsed form through the same field kinds
as the search page). Each watch is evaluated in its own transaction with its row locked
(``skip_locked``: a second evaluator passes it by), its matches created once (unique per watch
and change) and its cursor advanced in the same commit, so a worker killed mid-way loses
nothing and doubles nothing. Only changes below the first change of a harvest still running
are read: a run writes its release changes in its last step, and ids of a later run are
always greater (one harvest at a time), so a cursor never steps over a change not yet written.

A search its watcher may no longer see (made private by its owner) matches nothing: its cursor
still advances, and the watches page says why it is silent. A deleted search takes its
watches with it.

``queue_digests`` gathers the matches of periods that are over into one ``Digest`` job per
(recipient, frequency, period), dispatched after commit; ``watches.digests`` sends it once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Min

from archiveportal import clock, jobs
from harvest.models import ChangeKind, ObservationChange
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import Observation, SavedSearch
from queries.services import visible_saved_searches
from watches.models import CalendarFeed, Digest, Frequency, Watch, WatchMatch
from watches.periods import is_over, new_evaluation, period_of

log = logging.getLogger(__name__)
# Changes read per query: bounds the IN list and the memory of one evaluation step.
CHUNK = 2000
# What a watch reports; a removed row has nothing left for a search to select.
REPORTED_KINDS = (
    ChangeKind.NEW,
    ChangeKind.CHANGED,
    ChangeKind.RELEASED,
    ChangeKind.RELEASE_MOVED,
)


def recipient_of(watch: Watch) -> str:
    return "list" if watch.to_list else f"user:{watch.user_id}"


def may_see(user, saved: SavedSearch) -> bool:
    return visible_saved_searches(user).filter(pk=saved.pk).exists()


def may_send_to_list(user, saved: SavedSearch) -> bool:
    return bool(
        user.is_superuser
        and saved.visibility == SavedSearch.Visibility.LAB
        and settings.WATCHES_LIST_ADDRESS
    )


def watch(*, user, saved: SavedSearch, frequency: str, to_list: bool = False) -> Watch:
    """Start (or change) ``user``'s watch on ``saved``; it reports changes from now on."""
    if frequency not in Frequency.values:
        raise ValidationError(
            f"Frequency: '{frequency}' is not one of {', '.join(Frequency.values)}."
        )
    if not may_see(user, saved):
        raise PermissionDenied("You can only watch your own saved searches and lab-wide ones.")
    if to_list and not may_send_to_list(user, saved):
        raise ValidationError(
            "Send to the lab list: only an administrator, only for a lab-wide search, and only "
            "when WATCHES_LIST_ADDRESS is set."
        )
    with transaction.atomic():
        current, created = Watch.objects.select_for_update().get_or_create(
            user=user,
            saved_search=saved,
            defaults={"frequency": frequency, "to_list": to_list, "cursor": journal_end()},
        )
        if not created:
            current.frequency, current.to_list = frequency, to_list
            current.save(update_fields=["frequency", "to_list"])
    return current


def unwatch(*, user, watch: Watch) -> None:
    if watch.user_id != user.pk:
        raise PermissionDenied("Only the watcher can stop a watch.")
    watch.delete()


def journal_end() -> int:
    return ObservationChange.objects.aggregate(m=Max("id"))["m"] or 0


def readable_end() -> int:
    """The last change id every evaluator may read (see the module docstring)."""
    first_running = ObservationChange.objects.exclude(
        run__phase__in=jobs.TERMINAL_PHASES
    ).aggregate(m=Min("id"))["m"]
    return first_running - 1 if first_running is not None else journal_end()


def evaluate_watches(*, now: datetime | None = None) -> int:
    """Evaluate every watch against the changes it has not seen; returns the matches made."""
    now = now or clock.now()
    end = readable_end()
    evaluation = new_evaluation(now)
    made = 0
    for pk in Watch.objects.filter(cursor__lt=end).values_list("pk", flat=True):
        made += _evaluate_one(pk, end=end, now=now, evaluation=evaluation)
    return made


def _evaluate_one(pk: int, *, end: int, now: datetime, evaluation: str) -> int:
    with transaction.atomic():
        current = (
            Watch.objects.select_for_update(skip_locked=True)
            .select_related("saved_search", "user")
            .filter(pk=pk, cursor__lt=end)
            .first()
        )
        if current is None:
            return 0
        made = 0
        if current.user.is_active and may_see(current.user, current.saved_search):
            made = _record_matches(current, end=end, now=now, evaluation=evaluation)
        current.cursor = end
        current.save(update_fields=["cursor"])
    return made


def _record_matches(current: Watch, *, end: int, now: datetime, evaluation: str) -> int:
    search_q = observation_filter(parse_form(current.saved_search.params), now=now)
    recipient = recipient_of(current)
    period = period_of(current.frequency, now, evaluation=evaluation)
    changes = ObservationChange.objects.filter(
        id__gt=current.cursor, id__lte=end, kind__in=REPORTED_KINDS
    ).order_by("id")
    made = 0
    last = current.cursor
    while True:
        chunk = list(changes.filter(id__gt=last).values_list("id", "obs_id")[:CHUNK])
        if not chunk:
            return made
        last = chunk[-1][0]
        selected = set(
            Observation.objects.filter(search_q, obs_id__in={o for _, o in chunk}).values_list(
                "obs_id", flat=True
            )
        )
        rows = [
            WatchMatch(
                watch=current,
                change_id=change_id,
                recipient=recipient,
                frequency=current.frequency,
                period=period,
            )
            for change_id, obs_id in chunk
            if obs_id in selected
        ]
        WatchMatch.objects.bulk_create(rows, ignore_conflicts=True)
        made += len(rows)


def queue_digests(*, now: datetime | None = None) -> list[Digest]:
    """One digest per recipient, frequency and finished period for the matches not yet sent."""
    now = now or clock.now()
    queued: list[Digest] = []
    groups = (
        WatchMatch.objects.filter(digest__isnull=True)
        .values_list("recipient", "frequency", "period")
        .distinct()
    )
    for recipient, frequency, period in groups:
        if not is_over(frequency, period, now):
            continue
        with transaction.atomic():
            digest, created = _open_digest(recipient, frequency, period)
            attached = WatchMatch.objects.filter(
                digest__isnull=True, recipient=recipient, frequency=frequency, period=period
            ).update(digest=digest)
            if not attached:
                # Another evaluation (the beat's, beside the harvest's) attached these matches
                # between our listing and our lock: a digest opened for them would stay empty.
                if created:
                    digest.delete()
                continue
            if digest.phase == jobs.Phase.QUEUED:
                jobs.dispatch(digest)
                queued.append(digest)
    return queued


def _open_digest(recipient: str, frequency: str, period: str) -> tuple[Digest, bool]:
    """The queued digest of this period, or a follow-up if that one already went out (a match
    that arrived late, from a clock that stepped back, is sent rather than dropped); and
    whether it was created now."""
    user_id = int(recipient.split(":")[1]) if recipient.startswith("user:") else None
    key = period
    for n in range(2, 100):
        digest, created = Digest.objects.select_for_update().get_or_create(
            recipient=recipient, frequency=frequency, period=key, defaults={"user_id": user_id}
        )
        if digest.phase == jobs.Phase.QUEUED and digest.started_at is None:
            return digest, created
        key = f"{period}#{n}"
    raise RuntimeError(f"too many follow-up digests for {recipient} {period}")


def new_feed_token(*, user) -> str:
    """Create or replace ``user``'s calendar address; the token is returned once, never stored."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=user, defaults={"token_hash": feed_hash(token)})
    return token


def stop_feed(*, user) -> None:
    CalendarFeed.objects.filter(user=user).delete()


def feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
