"""Run a translated ADQL statement on the mirror: read-only, time-limited, MAXREC-bounded.

The geometry filters run first (the search's cone as a prefilter, then the exact test in
Python), and their matching ids are bound into the statement. Everything runs in one read-only
transaction with a statement timeout on PostgreSQL; SQLite's connection is switched to
query-only for the duration.
``run`` returns a page of rows (sync queries); ``stream`` yields rows from a server-side cursor
so an async job of a million rows holds only one batch in memory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections, transaction

from queries import filters, syntax
from queries.models import Observation
from vo.adql import GeometryFilter, OutputColumn, Translation

BATCH = 2000


class QueryFailed(Exception):
    """The database refused or cancelled a translated statement; the message says why."""


@dataclass
class Result:
    columns: list[OutputColumn]
    rows: list[tuple]
    overflow: bool  # more rows than MAXREC


@dataclass
class Counter:
    rows: int = 0
    overflow: bool = False


@contextmanager
def read_only(timeout_ms: int, using: str = "default") -> Iterator[None]:
    connection = connections[using]
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute("SET LOCAL statement_timeout = %s", [int(timeout_ms)])
                else:
                    cursor.execute("PRAGMA query_only = ON")
            try:
                yield
            finally:
                if connection.vendor == "sqlite":
                    with connection.cursor() as cursor:
                        cursor.execute("PRAGMA query_only = OFF")
    except OperationalError as error:
        text = str(error)
        if "statement timeout" in text or "canceling statement" in text:
            raise QueryFailed(
                f"the query ran longer than {timeout_ms // 1000} s and was stopped; narrow it, "
                "or run it as an async job"
            ) from None
        raise QueryFailed(f"the query could not run: {_first_line(error)}") from None
    except DatabaseError as error:
        raise QueryFailed(f"the query could not run: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or ["database error"])[0][:300]


def _bound_params(translation: Translation, using: str, vendor: str) -> list:
    params = list(translation.params)
    for geometry in translation.geometry:
        ids = [
            pk
            for pk, region, ra, dec in candidates(geometry, using)
            if geometry.test(region, ra, dec)
        ]
        params[geometry.param_index] = ids if vendor == "postgresql" else json.dumps(ids)
    return params


def candidates(geometry: GeometryFilter, using: str) -> Iterator[tuple]:
    """Rows that may satisfy ``geometry``: the search's cone around the shape's bounds."""
    rows = Observation.objects.using(using).filter(s_x__isnull=False)
    if geometry.radius < 179.0:
        cone = syntax.Cone(geometry.ra, geometry.dec, geometry.radius + 1e-6)
        rows = rows.filter(filters.cone_q(cone))
    return rows.values_list("id", "s_region", "s_ra", "s_dec").iterator(chunk_size=5000)


def _limit(translation: Translation, maxrec: int) -> tuple[int, bool]:
    """(rows to return, whether more rows than that mean OVERFLOW)."""
    if translation.limit is not None and translation.limit <= maxrec:
        return translation.limit, False
    return maxrec, True


def _sql(translation: Translation, limit: int) -> str:
    sql = f"{translation.sql} LIMIT {limit + 1}"
    return f"{sql} OFFSET {translation.offset}" if translation.offset else sql


def run(
    translation: Translation, *, maxrec: int, timeout_ms: int | None = None, using: str = "default"
) -> Result:
    timeout_ms = timeout_ms or settings.VO_TAP_STATEMENT_TIMEOUT_MS
    limit, can_overflow = _limit(translation, maxrec)
    connection = connections[using]
    with read_only(timeout_ms, using), connection.cursor() as cursor:
        params = _bound_params(translation, using, connection.vendor)
        cursor.execute(_sql(translation, limit), params)
        rows = cursor.fetchmany(limit + 1)
    return Result(translation.columns, rows[:limit], can_overflow and len(rows) > limit)


def stream(
    translation: Translation,
    *,
    maxrec: int,
    timeout_ms: int,
    counter: Counter,
    using: str = "default",
) -> Iterator[tuple]:
    """Rows one batch at a time; ``counter`` holds the count and OVERFLOW once exhausted."""
    limit, can_overflow = _limit(translation, maxrec)
    connection = connections[using]
    with read_only(timeout_ms, using):
        params = _bound_params(translation, using, connection.vendor)
        if connection.vendor == "postgresql":
            # A named cursor is a server-side one: rows come over in batches.
            cursor = connection.connection.cursor(name=f"tap_{uuid.uuid4().hex}")
        else:
            cursor = connection.connection.cursor()
            params = tuple(params)
        sql = _sql(translation, limit)
        if connection.vendor == "sqlite":
            sql = sql.replace("%s", "?")
        try:
            with connection.wrap_database_errors:  # psycopg's and sqlite's errors as Django's
                yield from _fetch(cursor, sql, params, limit, can_overflow, counter)
        finally:
            cursor.close()


def _fetch(
    cursor, sql: str, params, limit: int, can_overflow: bool, counter: Counter
) -> Iterator[tuple]:
    cursor.execute(sql, params)
    while counter.rows < limit:
        batch = cursor.fetchmany(min(BATCH, limit - counter.rows))
        if not batch:
            break
        counter.rows += len(batch)
        yield from batch
    counter.overflow = can_overflow and counter.rows == limit and bool(cursor.fetchmany(1))
