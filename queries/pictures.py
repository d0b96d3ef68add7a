"""The result's pictures: the sky plot and the spectral view of the rows a page shows.

Each is its own htmx request after the table (``hx-trigger="load"``), so the table arrives at
the speed of its SQL and a picture never holds it up. Both draw the page's rows, keyed by
``obs_id`` like the table's rows (``data-obs``), so hovering and clicking tie them together;
the sky adds the rest of the result as centres, for context.

A picture costs no more than the page it illustrates (issue 14, measured by
``bench/bench_pictures.py``) because it never runs the page's search again: the page hands its
rows' keys and the result's size over through the cache (``remember_page``), under a key made of
the member and the search, page and sort the picture's URL names; the picture reads them back
(``handed_page``) and fetches just those rows by their unique key. Only when the hand-over is
gone (expired, another member, a picture URL opened on its own) does the view page the search
itself. The context (the rest of the result) is one query bounded twice, in rows
(``QUERIES_SKY_MAX_CENTRES``) and in time (``QUERIES_SKY_CONTEXT_MS``), and the plot says which
of "all of them", "some of them" or "none of them" it drew: never a partial set passed off as
the whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils.safestring import SafeString
from redis.exceptions import RedisError

from queries.fields import ParsedQuery
from queries.models import Observation, SpectralWindow
from queries.sky import Footprint
from queries.sky import plot as plot_sky
from queries.spectral import Window
from queries.spectrum import MarkedLine, Track
from queries.spectrum import render as render_spectrum

log = logging.getLogger(__name__)

ROW_FIELDS = ("pk", "obs_id", "target_name", "s_region", "s_ra", "s_dec")
# Long enough for a slow page's pictures to arrive, short enough that a harvest's changes show.
HANDOVER_SECONDS = 600
# The small circle marking a row without a readable region, degrees (1 arcsec).
CENTRE_MARK_DEG = 1 / 3600


@dataclass(frozen=True)
class PageKeys:
    """What a result page shows, as a picture needs it: its rows' ``obs_id`` in the table's
    order and the number of rows in the whole result."""

    keys: list[str]
    total: int


@dataclass(frozen=True)
class Context:
    """The rest of the result as drawn: centres (ra, dec), how many rows the result has beside
    the drawn ones (None: not counted), and whether every one of them is drawn."""

    centres: list[tuple[float, float]]
    others: int | None
    complete: bool

    def caption(self) -> str:
        if self.complete:
            if not self.centres:
                return "no other rows in the result"
            return f"the other {len(self.centres):,} rows of the result as dots"
        of = f"of the other {self.others:,} rows" if self.others is not None else "other rows"
        if self.centres:
            return (
                f"{len(self.centres):,} {of} as dots, the first the database returned (not a "
                "sample, and not all of them)"
            )
        return f"the {of.removeprefix('of the ')} not drawn (too many to fetch in time)"


def _handover_key(user_id: int | None, values: Mapping[str, str], sort: str, page: int) -> str:
    search = json.dumps(
        [user_id, sorted(values.items()), sort, page, settings.QUERIES_PAGE_SIZE],
        separators=(",", ":"),
    )
    return "queries:pictures:" + hashlib.sha256(search.encode()).hexdigest()


def remember_page(
    user_id: int | None, values: Mapping[str, str], *, sort: str, page: int, page_keys: PageKeys
) -> None:
    """Hand the page's rows over to its pictures (``values`` as ``fields.query_params`` gives
    them, ``page`` the number the page really shows). Best effort: with the cache down the page
    still answers and its pictures page the search themselves."""
    try:
        cache.set(
            _handover_key(user_id, values, sort, page),
            {"keys": page_keys.keys, "total": page_keys.total},
            HANDOVER_SECONDS,
        )
    except RedisError as error:
        log.warning("pictures: no hand-over, the cache is unavailable (%s)", type(error).__name__)


def handed_page(
    user_id: int | None, values: Mapping[str, str], *, sort: str, page: int
) -> PageKeys | None:
    """The page's rows as the page handed them over, or None (then page the search)."""
    try:
        found = cache.get(_handover_key(user_id, values, sort, page))
    except RedisError as error:
        log.warning("pictures: no hand-over, the cache is unavailable (%s)", type(error).__name__)
        return None
    if not found:
        return None
    return PageKeys(list(found["keys"]), int(found["total"]))


def page_rows(page_keys: PageKeys) -> list[dict]:
    """The rows a picture draws, in the table's order: one lookup by the unique ``obs_id``.
    A row gone since the page was drawn (a harvest in between) is left out."""
    by_key = {
        r["obs_id"]: r
        for r in Observation.objects.filter(obs_id__in=page_keys.keys).values(*ROW_FIELDS)
    }
    return [by_key[k] for k in page_keys.keys if k in by_key]


def footprints(rows: list[dict]) -> list[Footprint]:
    return [
        Footprint(
            r["obs_id"],
            f"{r['obs_id']}  {r['target_name']}",
            r["s_region"] or "",
            r["s_ra"],
            r["s_dec"],
        )
        for r in rows
        if r["s_ra"] is not None and r["s_dec"] is not None
    ]


def first_rows(q: Q, size: int) -> list[dict]:
    """The first ``size`` rows of the result the database returns, in no particular order:
    what the pictures draw in project view, whose table lists projects, not rows (none when
    they take longer than ``QUERIES_SKY_CONTEXT_MS``)."""
    query = Observation.objects.filter(q).values(*ROW_FIELDS)[:size]
    return fetch_within(settings.QUERIES_SKY_CONTEXT_MS, query) or []


def context(q: Q, rows: list[dict], total: int | None) -> Context:
    """Centres of the result's other rows: all of them when there are at most
    ``QUERIES_SKY_MAX_CENTRES``; otherwise as many as that, in whatever order the database
    finds them first, and none when that query outlasts ``QUERIES_SKY_CONTEXT_MS`` (a filter
    whose first matches lie deep in its index, such as the abstract's words). ``total`` is the
    result's size when the page counted it."""
    others = None if total is None else max(0, total - len(rows))
    if others == 0:
        return Context([], 0, complete=True)
    limit = settings.QUERIES_SKY_MAX_CENTRES
    query = (
        Observation.objects.filter(q, s_ra__isnull=False, s_dec__isnull=False)
        .exclude(pk__in=[r["pk"] for r in rows])
        .values_list("s_ra", "s_dec")[:limit]
    )
    centres = fetch_within(settings.QUERIES_SKY_CONTEXT_MS, query)
    if centres is None:
        return Context([], others, complete=False)
    complete = len(centres) < limit or len(centres) == others
    return Context(centres, others, complete=complete)


def fetch_within(timeout_ms: int, query) -> list | None:
    """The query's rows, or None when PostgreSQL stops it after ``timeout_ms`` (elsewhere it
    runs to the end: SQLite mirrors are small)."""
    if connection.vendor != "postgresql":
        return list(query)
    # set_config(..., true) lasts until the transaction ends: at the COMMIT of this block when
    # it is the outermost one, otherwise (a request already in a transaction, the tests) only
    # when the outer one ends, so then the old value is put back by hand.
    nested = connection.in_atomic_block
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if nested:
                cursor.execute("SELECT current_setting('statement_timeout')")
                before = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            found = list(query)
            if nested:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
            return found
    except DatabaseError as error:
        if "statement timeout" not in str(error):
            raise
        log.info("sky context stopped after %s ms", timeout_ms)
        return None


def sky(q: Q, rows: list[dict], total: int | None) -> tuple[SafeString, dict, str]:
    """The SVG, what the interactive view (Aladin Lite) needs (survey, each row's footprint or
    centre, where to look), and the caption of the context drawn."""
    shown = footprints(rows)
    rest = context(q, rows, total)
    svg, fov = plot_sky(
        shown, centres=rest.centres, max_footprints=settings.QUERIES_SKY_MAX_FOOTPRINTS
    )
    outlines = len(shown) <= settings.QUERIES_SKY_MAX_FOOTPRINTS
    data = {
        "survey": settings.QUERIES_SKY_HIPS_URL,
        "rows": [
            {
                "key": f.key,
                "region": f.region if outlines else "",
                "ra": f.ra,
                "dec": f.dec,
                "radius": CENTRE_MARK_DEG,
            }
            for f in shown
        ],
        "centre": [shown[0].ra, shown[0].dec] if shown else None,
        "fov": fov,
    }
    return svg, data, rest.caption()


def spectrum(parsed: ParsedQuery, rows: list[dict]) -> SafeString:
    """One track per row with its spectral windows; the line field's lines drawn."""
    by_row: dict[int, list[Window]] = defaultdict(list)
    for pk, lo, hi, channel in sorted(
        SpectralWindow.objects.filter(observation_id__in=[r["pk"] for r in rows]).values_list(
            "observation_id", "lo_ghz", "hi_ghz", "channel_hz"
        )
    ):
        by_row[pk].append(Window(lo, hi, channel or 0.0))
    tracks = [
        Track(r["obs_id"], f"{r['obs_id']}  {r['target_name']}", tuple(by_row[r["pk"]]))
        for r in rows
    ]
    line = parsed.constraints.get("line")
    marked = [MarkedLine(name, f) for name, f in line.observed()] if line is not None else []
    return render_spectrum(tracks, marked)
