"""Run a translated ADQL statement read-only, with a time limit and MAXREC, on the mirror.

The geometry filters run first (their prefilter, then the exact test in Python), and their
matching ids are bound into the statement. Everything runs in one read-only transaction with a
statement timeout on PostgreSQL; SQLite's connection is switched to query-only for the duration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction

from vo.adql import OutputColumn, Translation


@dataclass
class Result:
    columns: list[OutputColumn]
    rows: list[tuple]
    overflow: bool  # more rows than MAXREC


@contextmanager
def read_only(timeout_ms: int, using: str = "default") -> Iterator[None]:
    connection = connections[using]
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


def run(
    translation: Translation, *, maxrec: int, timeout_ms: int | None = None, using: str = "default"
) -> Result:
    timeout_ms = timeout_ms or getattr(settings, "VO_TAP_STATEMENT_TIMEOUT_MS", 60_000)
    params = list(translation.params)
    limit = maxrec if translation.limit is None else min(maxrec, translation.limit)
    connection = connections[using]
    with read_only(timeout_ms, using), connection.cursor() as cursor:
        for geometry in translation.geometry:
            cursor.execute(geometry.prefilter)
            ids = [row[0] for row in cursor.fetchall() if geometry.test(row[1], row[2], row[3])]
            params[geometry.param_index] = (
                ids if connection.vendor == "postgresql" else json.dumps(ids)
            )
        sql = f"{translation.sql} LIMIT {limit + 1}"
        if translation.offset:
            sql += f" OFFSET {translation.offset}"
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    overflow = len(rows) > limit and (translation.limit is None or maxrec < translation.limit)
    return Result(translation.columns, rows[:limit], overflow)
