"""Reads behind the result pages: pure functions of (query, view, sort, page, columns).

Pages render straight from the mirror, so paging, sorting and changing columns never wait for a
worker. Raw view: one row per observation, only the displayed columns selected, one extra query
for the abstracts on the page. Project view: projects are paged by code from the matching
observations, then aggregated from their member OUS rows (never by scanning observations).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Count, F, Model, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Left
from django.utils.functional import SimpleLazyObject

from archiveportal import clock
from queries import columns as cols
from queries import counts, kinds, search_where, syntax
from queries.compiled import LIST_MARKERS, TIME_MARKER, Compiled
from queries.fields import ParsedQuery
from queries.filters import band_bits_q, observation_filter
from queries.models import (
    ColumnPreference,
    MemberOUS,
    Observation,
    ObservedPosition,
    Project,
    ProjectSummary,
)
from queries.units import bands_of, is_placeholder_release


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)


def page_number(text: str | None) -> int:
    """The 1-based page a request asks for; anything but a whole number means the first."""
    try:
        return max(1, int(text or "1"))
    except ValueError:
        return 1


def clamp_page(number: int, total: int, size: int) -> int:
    return max(1, min(number, max(1, -(-total // size))))


def rows_of_page(
    page: int, size: int, run: Callable[[int], list[tuple]]
) -> tuple[list[tuple], int]:
    """(rows, page number) of ``run(number)``: a statement that counts and pages in one go,
    the result's total as the first column of every row (its page's rows LEFT JOINed, so the
    total comes even past the last page). A page past the last is run again as the last."""
    number = page
    while True:
        found = run(number)
        last = clamp_page(number, found[0][0], size)
        if number == last:
            return found, number
        number = last


def parse_sort(sort: str, allowed: set[str], default: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    return (name, descending) if name in allowed else (default, False)


COUNT_FIRST_LIMIT = 20_000
# A hover shows this much of a project's abstract; the database sends no more than that.
ABSTRACT_CHARS = 600


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, as ``truncatechars`` does."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _abstract_head(prefix: str = "") -> Left:
    """The abstract's first ``ABSTRACT_CHARS + 1`` characters: enough for ``shorten`` to know
    whether it was cut, without sending whole abstracts for a hover."""
    return Left(f"{prefix}abstract", ABSTRACT_CHARS + 1)


def observations_page(
    q: Q, *, sort: str, page: int, size: int, columns: list[str], total: int | None = None
) -> tuple[list[dict], Page, dict[str, dict]]:
    """Rows of the raw view (only ``columns``, the ids a row links to and the hover's project
    title and abstract head), the page, and {code: {title, abstract_short}} for the hover.

    Two plans, both with an exact count. A search the planner expects to match at most
    ``COUNT_FIRST_LIMIT`` rows (a cone, a source, a project) is paged in one statement from its
    matches' (id, sort key, obs_id), which the covering indexes hold: count, sort and cut
    together, so the database never walks a whole sort index looking for 50 matches of a
    selective filter (an empty cone took 1.3 s that way on 1M rows) and never scans the matches
    twice. Larger results are counted (index-only) and take the plain ``ORDER BY ... LIMIT``,
    whose first 50 matches come quickly, in one statement too (``_page_of_many``). A wrong
    estimate costs one bounded statement, never a wrong page: the one-statement plan stops at
    the limit. Either way the page's rows are then read by id with a statement compiled once
    per column choice; the search's WHERE is compiled once (``_search_where``).

    ``total``, when the caller knows the count already (a search field that keeps its own
    matches: ``tables.known_count``), skips counting a large result.
    """
    # Default order: obs_id, which the sky indexes cover, so cutting a page needs no table reads.
    name, descending = parse_sort(sort, set(cols.BY_NAME), "obs_id")
    # Built only where a statement needs the ORM: the search's WHERE, compiled once per
    # search, serves the usual ones (``_search_where``).
    queryset = SimpleLazyObject(lambda: search_where.resolved(Observation.objects.filter(q)))
    where = _search_where(Observation, q)
    # A large result counted before on this very mirror is paged without counting it again.
    known = counts.remembered(where) if total is None else None
    few = None
    if known is not None and known.total > COUNT_FIRST_LIMIT:
        few = _page_of_many(where, name, descending, page=page, size=size, known=known)
    elif total is None or total <= COUNT_FIRST_LIMIT:
        few = _page_of_few(
            queryset, name, descending, page=page, size=size, estimate=True, where=where
        )
    if few is None and total is None and where is not None:
        few = _page_of_many(where, name, descending, page=page, size=size)
    elif few is None:
        total = queryset.count() if total is None else total
        if total <= COUNT_FIRST_LIMIT:  # the estimate was too high
            few = _page_of_few(queryset, name, descending, page=page, size=size)
    fields = list(dict.fromkeys([*columns, "obs_id", "proposal_id", "member_ous_uid"]))
    # The hover's title and abstract head come with the rows (a join for 50 rows), not in a
    # query of their own.
    hover = _hover()
    if few is not None:
        page_ids, total, number = few
        by_id = {r["id"]: r for r in _rows_by_id(tuple(fields)).rows(page_ids)}
        rows = [by_id[i] for i in page_ids]
    else:
        number = clamp_page(page, total, size)
        start = (number - 1) * size
        order = [f"-{name}" if descending else name, "obs_id"]
        rows = list(queryset.order_by(*order).values(*fields, **hover)[start : start + size])
    projects = {}
    for r in rows:  # the rows themselves keep only their columns (the API returns them)
        title, abstract = r.pop("hover_title"), r.pop("hover_abstract")
        if title is not None or abstract is not None:
            projects[r["proposal_id"]] = {
                "title": title or "",
                "abstract_short": shorten(abstract or "", ABSTRACT_CHARS),
            }
    return rows, Page(number, size, total), projects


def _hover() -> dict:
    """The hover's project title and abstract head, joined to a page's rows."""
    return {"hover_title": F("project__title"), "hover_abstract": _abstract_head("project__")}


@lru_cache(maxsize=256)
def _rows_by_id(fields: tuple[str, ...]) -> Compiled:
    """The statement reading a page's rows by id with these columns and the hover, compiled
    once per column choice (``queries.compiled``)."""
    return Compiled(
        lambda ids: Observation.objects.filter(_in(Observation, "id", ids)).values(
            "id", *fields, **_hover()
        )
    )


_PREFERENCE = Compiled(
    lambda users: ColumnPreference.objects.filter(_in(ColumnPreference, "user", users)).values(
        "columns", "coordinates", "spectral"
    )
)


def column_preference(user_id: int | None) -> dict | None:
    """A member's stored columns and display choices (``columns``, ``coordinates``,
    ``spectral``), or None: one compiled statement (``queries.compiled``)."""
    if user_id is None:
        return None
    found = _PREFERENCE.rows([user_id])
    return found[0] if found else None


def _estimated_rows(sql: str, params: tuple) -> float:
    """PostgreSQL's estimate of the rows ``sql`` returns: planning only, no scan."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


def _page_of_few(
    queryset: QuerySet,
    name: str,
    descending: bool,
    *,
    page: int,
    size: int,
    estimate: bool = False,
    where: tuple[str, tuple] | None = None,
) -> tuple[list[int], int, int] | None:
    """(ids of the page in order, total, page number), or None when more than
    ``COUNT_FIRST_LIMIT`` rows match or, with ``estimate``, when PostgreSQL expects more (the
    matches' statement is planned, not run, then; elsewhere nothing is estimated, so small
    embedded mirrors always try this first). Ties keep obs_id order; NULLs go where PostgreSQL
    puts them (last when ascending, first when descending). ``where``: the search's WHERE
    already compiled (``_search_where``), written into the statement ``matches`` compiles to.
    Sorted by ``obs_id`` (the default; it is unique, so there are no ties), the matches carry
    it once, not as the key and again as the tie-break: the Orion cone with band 6 (6,292
    matches) cost the backend ~1 ms less CPU a page (three interleaved A/Bs, 7-12 ms)."""
    # (id, sort key[, obs_id]): obs_id last, the key second
    fields = ("id", "obs_id") if name == "obs_id" else ("id", name, "obs_id")

    def matches() -> QuerySet:
        return queryset.order_by().values_list(*fields)[: COUNT_FIRST_LIMIT + 1]

    if connection.vendor == "postgresql":
        if where is not None:
            table, quote = Observation._meta.db_table, connection.ops.quote_name
            columns = ", ".join(
                f"{quote(table)}.{quote(Observation._meta.get_field(f).column)}" for f in fields
            )
            inner = (
                f"SELECT {columns} FROM {quote(table)} WHERE {where[0]} "
                f"LIMIT {COUNT_FIRST_LIMIT + 1}"
            )
            params = where[1]
        else:
            try:
                inner, params = matches().query.sql_with_params()
            except EmptyResultSet:  # a filter that can match nothing (an empty IN list)
                return [], 0, 1
        if estimate and _estimated_rows(inner, params) > COUNT_FIRST_LIMIT:
            return None
        direction = "DESC" if descending else "ASC"
        names = "id, k, o" if len(fields) == 3 else "id, k"
        order = f"k {direction}, o" if len(fields) == 3 else f"k {direction}"
        number = page
        while True:
            with connection.cursor() as cursor:
                # MATERIALIZED: the planner may not push the LIMIT into the match scan and
                # walk a sort index instead; LEFT JOIN: the total comes even past the last page.
                cursor.execute(
                    f"WITH m({names}) AS MATERIALIZED ({inner}) "
                    "SELECT n.total, p.id FROM (SELECT COUNT(*) AS total FROM m) n LEFT JOIN "
                    f"(SELECT {names} FROM m ORDER BY {order} LIMIT %s OFFSET %s) p "
                    f"ON TRUE ORDER BY p.{order.replace(', o', ', p.o')}",
                    [*params, size, (number - 1) * size],
                )
                found = cursor.fetchall()
            total = found[0][0]
            if total > COUNT_FIRST_LIMIT:
                return None
            if number == clamp_page(number, total, size):
                return [i for _, i in found if i is not None], total, number
            number = clamp_page(number, total, size)
    pairs = sorted(matches(), key=lambda p: p[-1])
    if len(pairs) > COUNT_FIRST_LIMIT:
        return None
    present = sorted((p for p in pairs if p[1] is not None), key=lambda p: p[1], reverse=descending)
    absent = [p for p in pairs if p[1] is None]
    ordered = present + absent if not descending else absent + present
    number = clamp_page(page, len(pairs), size)
    start = (number - 1) * size
    return [p[0] for p in ordered[start : start + size]], len(pairs), number


def _in(model: type[Model], field: str, values: Iterable) -> Q:
    """``field IN values``; on PostgreSQL ``= ANY(%s)`` with the list as one array parameter.

    A page's statements carry lists of 50 to 2,000 ids. As literals they made long statements
    that psycopg re-parses on every call (it caches only short ones) and PostgreSQL plans slowly
    (2,000 ids: 6-10 ms against 2.5 as an array, measured).
    """
    values = sorted(values)
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": values})
    column = model._meta.get_field(field).column if field != "pk" else model._meta.pk.column
    quoted = (
        f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name(column)}"
    )
    return Q(RawSQL(f"{quoted} = ANY(%s)", (values,), output_field=BooleanField()))


@dataclass
class ProjectRow:
    code: str
    title: str
    pi_name: str
    abstract: str  # the first ABSTRACT_CHARS characters (for the hover)
    bands: list[int]
    n_mous: int
    n_sources: int
    integration: float
    status: str  # public | proprietary | mixed
    next_release: datetime | None
    placeholder_release: bool


PROJECT_SORTS = {"code"}


@dataclass(frozen=True)
class KnownMatches:
    """A search whose matches are read from elsewhere than the observations (a target list's
    stored matches, the observed positions of cones: ``tables.known_matches``) by
    ``projects_page``: ``projects(descending=, page=, size=)``
    answers what ``_projects_of_matches`` does (the page's project ids in code order, their
    matched member OUS ids, the number of projects, the page number), ``rows_q(mous_ids)``
    selects the result's observations among those member OUSs; ``sources``, when the reads
    already counted them, answers ``_sources_per_project`` for the shown member OUSs."""

    projects: Callable[..., tuple[list[int], list[int], int, int]]
    rows_q: Callable[[list[int]], Q]
    sources: Callable[[list[int]], dict[int, int]] | None = None


def member_ous_filter(parsed: ParsedQuery) -> Q | None:
    """The search as a filter on the member OUS and project aggregates, when a band list alone
    makes it one (their ``band_mask`` is the union of their rows'), else None; for
    ``projects_page``."""
    band = parsed.constraints.get("band_list")
    if band is None or len(parsed.constraints) != 1 or band.negated:
        return None
    return band_bits_q(band)


def position_matches(parsed: ParsedQuery) -> KnownMatches | None:
    """The project view's reads from ``ObservedPosition`` (``queries.positions`` says why it
    gives the same pairs and sources as the observations) when it can answer the search, else
    None: on PostgreSQL, when every constraint is a cone (any frame: ``filters.cone_q`` tests it
    on ICRS columns, which both tables have) or a band list (the band mask is part of a
    position's key), with at least one cone. Ranges of RA/Dec or l/b stay on the observations,
    whose covering index bounds them by declination; a target list keeps its own matches."""
    if connection.vendor != "postgresql":
        return None
    has_cone = False
    for spec, node in parsed.items():
        if isinstance(spec.kind, kinds.Bands):
            continue
        if type(spec.kind) not in (kinds.Position, kinds.Resolver):
            return None
        cones = node.alternatives if isinstance(node, syntax.AnyPosition) else (node,)
        if not all(isinstance(cone, syntax.Cone) for cone in cones):
            return None
        has_cone = True
    if not has_cone:  # a band list alone: ``member_ous_filter`` and the project summaries
        return None
    q = observation_filter(parsed)
    where = _search_where(ObservedPosition, q)
    if where is None:
        return None
    counted: dict[int, int] = {}

    def projects(*, descending: bool, page: int, size: int):
        page_ids, mous_ids, total, number, sources = _projects_at_positions(
            where, descending=descending, page=page, size=size
        )
        counted.update(sources)
        return page_ids, mous_ids, total, number

    return KnownMatches(
        projects=projects,
        rows_q=lambda mous_ids: q & _in(Observation, "member_ous_id", mous_ids),
        sources=lambda mous_ids: counted,
    )


def _projects_at_positions(
    where: tuple[str, tuple], *, descending: bool, page: int, size: int
) -> tuple[list[int], list[int], int, int, dict[int, int]]:
    """``_projects_of_matches`` read from the matching ``ObservedPosition`` rows (``where``),
    with the page's sources: (the page's project ids in code order, their matched member OUS
    ids, the number of matching projects, the page number, {project id: distinct source names
    of its matched member OUSs}). One statement: the matching positions (index-only on
    ``pos_sky_zone``), their projects counted, the page's cut by code (a top-N sort, no
    ranking of them all) and its positions returned; the Orion cone's 5,618 positions, 1,798
    projects, 5-6 ms."""
    table = connection.ops.quote_name(ObservedPosition._meta.db_table)
    direction = "DESC" if descending else "ASC"

    def run(number: int) -> list[tuple]:
        with connection.cursor() as cursor:
            # (SELECT 1) LEFT JOIN: the count comes even when the page is past the last one.
            cursor.execute(
                f'WITH m AS MATERIALIZED (SELECT {table}."project_id", {table}."member_ous_id", '
                f'{table}."code", {table}."target_name" FROM {table} WHERE {where[0]}), '
                "d AS MATERIALIZED (SELECT project_id, MIN(code) AS code FROM m "
                "GROUP BY project_id), "
                f"page AS (SELECT project_id, code FROM d ORDER BY code {direction} "
                "LIMIT %s OFFSET %s) "
                "SELECT (SELECT COUNT(*) FROM d), page.project_id, m.member_ous_id, "
                "m.target_name FROM (SELECT 1) one LEFT JOIN page ON TRUE "
                f"LEFT JOIN m ON m.project_id = page.project_id ORDER BY page.code {direction}",
                [*where[1], size, (number - 1) * size],
            )
            return cursor.fetchall()

    found, number = rows_of_page(page, size, run)
    page_ids = list(dict.fromkeys(p for _, p, _, _ in found if p is not None))
    mous_ids = sorted({m for _, _, m, _ in found if m is not None})
    names: dict[int, set[str]] = {}
    for _, project_id, mous_id, name in found:
        if mous_id is not None:  # as ``_sources_per_project`` counts: rows of member OUSs
            names.setdefault(project_id, set()).add(name)
    sources = {project_id: len(n) for project_id, n in names.items()}
    return page_ids, mous_ids, found[0][0], number, sources


def _projects_of_matches(
    matching: QuerySet,
    *,
    descending: bool,
    page: int,
    size: int,
    where: tuple[str, tuple] | None = None,
) -> tuple[list[int], list[int], int, int]:
    """(the page's project ids in code order, their matched member OUS ids, the number of
    matching projects, the page number) from the distinct (project, member OUS) pairs of the
    matches, which the sky indexes hold.

    On PostgreSQL one statement counts the projects, ranks them by code and returns only the
    page's pairs: fetching the Orion cone's 3,000 pairs and 1,800 codes into Python cost ~5 ms
    of CPU and a second query. Elsewhere the pairs are read and paged in Python.
    """

    def pairs() -> QuerySet:
        return matching.order_by().values_list("project_id", "member_ous_id").distinct()

    if connection.vendor != "postgresql":
        found = set(pairs())
        codes = dict(
            Project.objects.filter(pk__in={p for p, _ in found if p is not None}).values_list(
                "pk", "code"
            )
        )
        ordered = sorted(codes, key=codes.__getitem__, reverse=descending)
        number = clamp_page(page, len(ordered), size)
        page_ids = ordered[(number - 1) * size : number * size]
        on_page = set(page_ids)
        return page_ids, [m for p, m in found if p in on_page and m], len(ordered), number
    if where is not None:  # what ``pairs`` compiles to, with ``where``
        table = connection.ops.quote_name(Observation._meta.db_table)
        inner = (
            f'SELECT DISTINCT {table}."project_id", {table}."member_ous_id" FROM {table} '
            f"WHERE {where[0]}"
        )
        params = where[1]
    else:
        try:
            inner, params = pairs().query.sql_with_params()
        except EmptyResultSet:  # a filter that can match nothing (an empty IN list)
            return [], [], 0, 1
    project = connection.ops.quote_name(Project._meta.db_table)
    direction = "DESC" if descending else "ASC"

    def run(number: int) -> list[tuple]:
        with connection.cursor() as cursor:
            # LEFT JOINs: the count comes even when the page is past the last one.
            cursor.execute(
                f"WITH pairs(project_id, mous_id) AS MATERIALIZED ({inner}), "
                "ranked AS (SELECT p.id, ROW_NUMBER() OVER (ORDER BY p.code "
                f"{direction}) AS r FROM (SELECT DISTINCT project_id FROM pairs) d "
                f"JOIN {project} p ON p.id = d.project_id), "
                "total AS (SELECT COUNT(*) AS n FROM ranked) "
                "SELECT total.n, ranked.id, pairs.mous_id FROM total "
                "LEFT JOIN ranked ON ranked.r > %s AND ranked.r <= %s "
                "LEFT JOIN pairs ON pairs.project_id = ranked.id "
                "ORDER BY ranked.r, pairs.mous_id",
                [*params, (number - 1) * size, number * size],
            )
            return cursor.fetchall()

    found, number = rows_of_page(page, size, run)
    page_ids = list(dict.fromkeys(p for _, p, _ in found if p is not None))
    return page_ids, [m for _, _, m in found if m is not None], found[0][0], number


def _page_of_many(
    where: tuple[str, tuple],
    name: str,
    descending: bool,
    *,
    page: int,
    size: int,
    known: counts.Remembered | None = None,
) -> tuple[list[int], int, int]:
    """(ids of the page in order, total, page number) of a large result (PostgreSQL): the
    count (index-only) and the plain ``ORDER BY ... LIMIT``, whose first matches come quickly,
    in one statement; the rows are then read by id (``_rows_by_id``, compiled once) instead of
    compiling the ordered ``.values()`` queryset for every page. Same order as
    ``_page_of_few``: ties by obs_id, NULLs last ascending and first descending.

    With ``known`` (a count remembered by ``queries.counts``) the statement only pages, and
    says which mirror generation it saw; if that is not the count's, it is counted again. The
    count's statement says its generation too, so the count can be remembered."""
    quote = connection.ops.quote_name
    table = quote(Observation._meta.db_table)
    column = f"{table}.{quote(Observation._meta.get_field(name).column)}"
    direction = "DESC" if descending else "ASC"
    matches = (
        f'(SELECT {table}."id" AS id, {column} AS k, {table}."obs_id" AS o FROM {table} '
        f"WHERE {where[0]} ORDER BY k {direction}, o LIMIT %s OFFSET %s) p ON TRUE "
        f"ORDER BY p.k {direction}, p.o"
    )

    def run(number: int) -> list[tuple]:
        with connection.cursor() as cursor:
            # LEFT JOIN: the total comes even past the last page.
            cursor.execute(
                f"SELECT n.total, p.id, n.generation FROM (SELECT COUNT(*) AS total, "
                f"{counts.GENERATION_SQL} AS generation FROM {table} WHERE {where[0]}) n "
                f"LEFT JOIN {matches}",
                [*where[1], *where[1], size, (number - 1) * size],
            )
            return cursor.fetchall()

    if known is not None:
        number = clamp_page(page, known.total, size)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT g.generation, p.id FROM (SELECT {counts.GENERATION_SQL} AS generation) g "
                f"LEFT JOIN {matches}",
                [*where[1], size, (number - 1) * size],
            )
            found = cursor.fetchall()
        if found[0][0] == known.generation:
            return [i for _, i in found if i is not None], known.total, number
    with counts.counting(where) as may_remember:
        found, number = rows_of_page(page, size, run)
    total, _, generation = found[0]
    if may_remember:
        counts.remember(where, generation, total)
    return [row[1] for row in found if row[1] is not None], total, number


def _search_where(model: type[Model], q: Q) -> tuple[str, tuple] | None:
    """The WHERE clause of ``model.objects.filter(q)`` (a filter on that table alone) as SQL
    and parameters, compiled once per search (``queries.search_where``) for the statements
    that test it; None where it needs another table, matches everything or nothing, or off
    PostgreSQL (the querysets are compiled as usual then)."""
    return search_where.where_of(model, q)


def _sources_per_project(
    q: Q, mous_ids: list[int], where: tuple[str, tuple] | None = None
) -> dict[int, int]:
    """{project id: distinct source names among the rows matching ``q``} for these member
    OUSs' rows. The rows are found by member OUS (its index: a few hundred rows for a page)
    and counted in the database with the search's test as the aggregate's FILTER, not in the
    WHERE clause: there the planner took it as a reason to AND in a scan of the search's own
    index (7-17 ms for a cone); and fetching the rows to count them in Python cost ~2 ms of
    CPU for the Orion cone's page (1,600 rows)."""
    if not mous_ids:
        return {}
    if where is not None:  # the statement the queryset below compiles to, with ``where``
        table = connection.ops.quote_name(Observation._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT {table}."project_id", COUNT(DISTINCT {table}."target_name") '
                f"FILTER (WHERE {where[0]}) FROM {table} "
                f'WHERE {table}."member_ous_id" = ANY(%s) GROUP BY 1',
                [*where[1], sorted(mous_ids)],
            )
            return {project_id: n for project_id, n in cursor.fetchall() if n}
    rows = Observation.objects.filter(_in(Observation, "member_ous_id", mous_ids)).order_by()
    names = (
        Count("target_name", distinct=True, filter=q) if q else Count("target_name", distinct=True)
    )
    counts = rows.values("project_id").annotate(n=names).values_list("project_id", "n")
    return {project_id: n for project_id, n in counts if n}


def _summary_page(
    mous_q: Q, descending: bool, *, page: int, size: int
) -> tuple[list[int], int, int]:
    """(the page's project ids in code order, the number of projects, the page number) of the
    projects whose ``ProjectSummary`` matches ``mous_q`` (a band list alone). On PostgreSQL
    one statement counts and pages (``rows_of_page``): the count and the page each cost a
    round trip and a plan before, for a statement of 0.1 ms (the page walks the code index
    and stops at 50 matches)."""
    summaries = ProjectSummary.objects.filter(mous_q)
    order = "-code" if descending else "code"
    where = _search_where(ProjectSummary, mous_q)
    if where is None:
        total = summaries.count()
        number = clamp_page(page, total, size)
        start = (number - 1) * size
        rows = summaries.order_by(order).values_list("project_id", flat=True)
        return list(rows[start : start + size]), total, number
    table = connection.ops.quote_name(ProjectSummary._meta.db_table)
    direction = "DESC" if descending else "ASC"

    def run(number: int) -> list[tuple]:
        with connection.cursor() as cursor:
            # LEFT JOIN: the total comes even past the last page.
            cursor.execute(
                f"SELECT n.total, p.project_id FROM (SELECT COUNT(*) AS total FROM {table} "
                f"WHERE {where[0]}) n LEFT JOIN (SELECT {table}.project_id, {table}.code "
                f"FROM {table} WHERE {where[0]} ORDER BY {table}.code {direction} "
                "LIMIT %s OFFSET %s) p ON TRUE "
                f"ORDER BY p.code {direction}",
                [*where[1], *where[1], size, (number - 1) * size],
            )
            return cursor.fetchall()

    found, number = rows_of_page(page, size, run)
    return [p for _, p in found if p is not None], found[0][0], number


def _sources_at_positions(
    q: Q, mous_ids: list[int], where: tuple[str, tuple] | None
) -> dict[int, int]:
    """``_sources_per_project`` read from ``ObservedPosition``, where the band list alone
    (``member_ous_filter``) lets it: a position's key holds its rows' project, member OUS,
    band mask and source name, so the names of the member OUSs' rows in the band are the
    names of their positions in the band (``queries.positions``), from a quarter of the rows
    (247,524 positions for 1M observations; the band-6 page's 100 member OUSs: 924 rows). The
    observations answer where the test does not compile on the positions."""
    on_positions = _search_where(ObservedPosition, q) if mous_ids else None
    if on_positions is None:
        return _sources_per_project(q, mous_ids, where)
    table = connection.ops.quote_name(ObservedPosition._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {table}."project_id", COUNT(DISTINCT {table}."target_name") '
            f"FILTER (WHERE {on_positions[0]}) FROM {table} "
            f'WHERE {table}."member_ous_id" = ANY(%s) GROUP BY 1',
            [*on_positions[1], sorted(mous_ids)],
        )
        return {project_id: n for project_id, n in cursor.fetchall() if n}


_MOUS_FIELDS = ("pk", "project_id", "band_mask", "t_exptime", "release_date", "release_passed")
# The page's member OUSs by id and its projects by id: compiled once (``queries.compiled``).
_MEMBER_OUSES = Compiled(
    lambda ids, at: (
        MemberOUS.objects.filter(_in(MemberOUS, "pk", ids))
        .with_release_passed(at)
        .values(*_MOUS_FIELDS)
    ),
    LIST_MARKERS[0],
    TIME_MARKER,
)
_PROJECTS = Compiled(
    lambda ids: Project.objects.filter(_in(Project, "pk", ids)).values(
        "pk", "code", "title", "pi_name", abstract_head=_abstract_head()
    )
)


def _summarised_member_ouses(where: tuple[str, tuple] | None) -> Compiled | None:
    """The member OUSs of the given projects matching ``where`` (``_search_where`` of the
    member OUS filter), read as ``_MEMBER_OUSES`` reads them: a statement compiled once per
    search (``queries.compiled``), or None (the queryset is compiled as usual)."""
    if where is None:
        return None
    try:
        return _member_ouses_where(where[0], where[1])
    except TypeError:  # a list among the parameters: not a key
        return None


@lru_cache(maxsize=64)
def _member_ouses_where(sql: str, params: tuple) -> Compiled:
    return Compiled(
        lambda ids, at: (
            MemberOUS.objects.filter(
                RawSQL(sql, params, output_field=BooleanField()),
                _in(MemberOUS, "project_id", ids),
            )
            .with_release_passed(at)
            .values(*_MOUS_FIELDS)
        ),
        LIST_MARKERS[0],
        TIME_MARKER,
    )


def projects_page(
    q: Q,
    *,
    sort: str,
    page: int,
    size: int,
    now: datetime | None = None,
    mous_q: Q | None = None,
    known: KnownMatches | None = None,
) -> tuple[list[ProjectRow], Page]:
    """One row per project, aggregated from the member OUSs the search matched.

    ``mous_q`` (a band list alone) selects, counts and pages projects in the narrow
    ``ProjectSummary`` table; any other search reads the distinct (project, member OUS) pairs
    of its matches once, from the covering indexes (``project_id`` and ``member_ous_id`` are in
    the sky indexes), and ranks the projects by code in the same statement
    (``_projects_of_matches``). Then, for the page's 50
    projects only: their matched member OUSs, their distinct sources among the matching rows,
    and their title, PI and the head of the abstract. A fixed number of queries per page.
    ``known`` (a target list's stored matches) stands for the matches in both reads.
    """
    now = now or clock.now()
    _, descending = parse_sort(sort, PROJECT_SORTS, "code")
    if mous_q is not None:
        known = None  # the summaries answer the search; nothing is read from ``known``
    matching = SimpleLazyObject(lambda: search_where.resolved(Observation.objects.filter(q)))
    # The search's WHERE on the observations, compiled once per search for the statements
    # that test it (the matches, and the sources of the page's member OUSs, summarised or
    # not); not needed when the matches are read elsewhere (``known``).
    where = _search_where(Observation, q) if known is None else None
    mouses = mous_statement = None
    if mous_q is not None:
        page_ids, total, number = _summary_page(mous_q, descending, page=page, size=size)
        mous_statement = _summarised_member_ouses(_search_where(MemberOUS, mous_q))
        if mous_statement is None:
            mouses = MemberOUS.objects.filter(mous_q, _in(MemberOUS, "project_id", page_ids))
    else:
        if known is not None:
            read = known.projects
        else:
            read = partial(_projects_of_matches, matching, where=where)
        page_ids, mous_ids, total, number = read(descending=descending, page=page, size=size)
    # Released or not: the member OUS's own rule at ``now``, the one downloads apply.
    if mous_statement is not None:
        mous_rows = mous_statement.rows(page_ids, now)
    elif mouses is None:
        mous_rows = _MEMBER_OUSES.rows(mous_ids, now)
    else:
        mous_rows = list(mouses.with_release_passed(now).values(*_MOUS_FIELDS))
    shown = [m["pk"] for m in mous_rows]
    if known is not None and known.sources is not None:
        sources = known.sources(shown)
    elif known is not None:
        sources = _sources_per_project(known.rows_q(shown), shown)
    elif mous_q is not None:
        sources = _sources_at_positions(q, shown, where)
    else:
        sources = _sources_per_project(q, shown, where)
    aggregated: dict[int, dict] = {}
    for m in mous_rows:
        agg = aggregated.setdefault(
            m["project_id"], {"mask": 0, "n": 0, "t": 0.0, "public": 0, "releases": []}
        )
        agg["mask"] |= m["band_mask"]
        agg["n"] += 1
        agg["t"] += m["t_exptime"] or 0.0
        if m["release_passed"]:
            agg["public"] += 1
        else:
            agg["releases"].append(m["release_date"])
    projects = {p["pk"]: p for p in _PROJECTS.rows(page_ids)}
    rows = []
    for pk in page_ids:
        agg = aggregated.get(pk, {"mask": 0, "n": 0, "t": 0.0, "public": 0, "releases": []})
        project = projects[pk]
        pending = agg["releases"]
        status = "public" if not pending else "proprietary" if agg["public"] == 0 else "mixed"
        known = [r for r in pending if r is not None and not is_placeholder_release(r)]
        rows.append(
            ProjectRow(
                code=project["code"],
                title=project["title"],
                pi_name=project["pi_name"],
                abstract=shorten(project["abstract_head"] or "", ABSTRACT_CHARS),
                bands=bands_of(agg["mask"]),
                n_mous=agg["n"],
                n_sources=sources.get(pk, 0),
                integration=agg["t"],
                status=status,
                next_release=min(known) if known else None,
                placeholder_release=bool(pending) and not known,
            )
        )
    return rows, Page(number, size, total)
