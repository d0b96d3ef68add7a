"""Writes of the queries app: searches (job rows run by workers) and saved searches."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from archiveportal import jobs
from queries.adql import to_adql
from queries.archive.client import get_client
from queries.archive.loader import upsert_observations
from queries.errors import ArchiveRejected, ArchiveUnavailable
from queries.fields import parse_form, query_params
from queries.filters import observation_filter
from queries.models import DisplayMode, Observation, SavedSearch, Search

log = logging.getLogger(__name__)


@transaction.atomic
def start_search(
    *, owner, params: dict, result_view: str = DisplayMode.RAW, live: bool = False
) -> Search:
    """Record a search and hand it to a worker. ``params`` must already parse."""
    params = query_params(params)
    parsed = parse_form(params)
    search = Search.objects.create(
        owner=owner,
        params=params,
        live=live,
        result_view=result_view if result_view in DisplayMode.values else DisplayMode.RAW,
        adql=to_adql(parsed),
    )
    jobs.dispatch(search)
    return search


def execute_search(search_id: str, *, on_transient=None) -> None:
    """The worker's part: count the mirror's answer and, for live searches, ask the archive.

    Archive rows are upserted into the mirror first, so the result page (a pure function of the
    mirror) then shows them. Archive trouble never loses the mirror's answer: unavailable means a
    notice after the retries are spent; rejected means the archive's reason is shown.
    """
    search = jobs.claim(Search, search_id)
    if search is None:
        return
    parsed = parse_form(search.params)
    notice = ""
    archive_rows = None
    if search.live:
        try:
            rows = get_client().query_obscore(search.adql, max_rows=settings.QUERIES_MAX_ROWS)
            upsert_observations(rows, source=f"archive:{settings.ARCHIVE_URL}")
            archive_rows = len(rows)
            notice = f"The archive returned {len(rows)} rows; the mirror is up to date with them."
        except ArchiveUnavailable as exc:
            if on_transient is not None:
                on_transient(search, exc)  # raises a Celery retry while retries remain
            notice = (
                "The ALMA archive is unavailable right now; these are the mirror's results "
                f"only. ({exc})"
            )
        except ArchiveRejected as exc:
            notice = f"The ALMA archive rejected the query: {exc}"
    count = Observation.objects.filter(observation_filter(parsed)).count()
    jobs.finish(search, result_count=count, archive_rows=archive_rows, notice=notice)


def save_search(
    *, owner, name: str, description: str, params: dict, result_view: str, visibility: str
) -> SavedSearch:
    name = name.strip()
    if not name:
        raise ValidationError("A saved search needs a name.")
    if visibility not in SavedSearch.Visibility.values:
        raise ValidationError("Visibility is 'private' or 'lab'.")
    parse_form(params)  # never save what cannot run
    try:
        with transaction.atomic():
            return SavedSearch.objects.create(
                owner=owner,
                name=name[:120],
                description=description.strip(),
                params=query_params(params),
                visibility=visibility,
                result_view=result_view if result_view in DisplayMode.values else DisplayMode.RAW,
            )
    except IntegrityError:
        raise ValidationError(f"You already have a saved search called '{name}'.") from None


def _check_owner(user, saved: SavedSearch) -> None:
    if saved.owner_id != user.pk and not user.is_superuser:
        raise PermissionDenied("Only its owner or an administrator can change a saved search.")


def rename_saved(*, user, saved: SavedSearch, name: str, description: str | None = None) -> None:
    _check_owner(user, saved)
    name = name.strip()
    if not name:
        raise ValidationError("A saved search needs a name.")
    saved.name = name[:120]
    if description is not None:
        saved.description = description.strip()
    try:
        with transaction.atomic():
            saved.save()
    except IntegrityError:
        raise ValidationError(f"You already have a saved search called '{name}'.") from None


def delete_saved(*, user, saved: SavedSearch) -> None:
    _check_owner(user, saved)
    saved.delete()


def visible_saved_searches(user):
    return SavedSearch.objects.filter(
        Q(owner=user) | Q(visibility=SavedSearch.Visibility.LAB)
    ).select_related("owner")
