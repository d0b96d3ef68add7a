"""Normalised observation rows into PostgreSQL through a staging table (COPY, then one merge).

The loader normalises a file or a harvested page into ``Columns``; ``prepare`` turns them into
the tuples a binary ``COPY`` sends (``extra`` as JSON text, dumped once per distinct value, so
no per-row JSON adapter runs), ``stage`` COPYs them into a temporary table dropped at commit,
and ``merge_sql`` is the ``INSERT ... SELECT ... ON CONFLICT (obs_id) DO UPDATE`` that takes
them into the mirror. The harvest wraps that statement with its change journal; ``load_archive``
counts what it created and updated. ``prepare`` is plain Python with no database access, so a
harvest runs it in its read-ahead thread while the previous page is being merged.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from queries.archive.loader import Columns
from queries.models import Observation

# Every column a source decides; the hierarchy links are derived after the merge.
FIELDS = [
    f for f in Observation._meta.concrete_fields if f.name not in ("id", "project", "member_ous")
]
NAMES = [f.name for f in FIELDS]
TABLE = Observation._meta.db_table
STAGE = "observation_stage"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


COLUMNS = ", ".join(_q(f.column) for f in FIELDS)
# The stage holds ``extra`` as text; everything else has the mirror column's type.
STAGED = ", ".join(f"s.{_q(f.column)}" + ("::jsonb" if f.name == "extra" else "") for f in FIELDS)


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a page's objects are built.

    A page is a few million tuples, dicts and values, none of them in a reference cycle;
    the collector's passes over them (and over the pages still held) cost a third of the
    preparation. Reference counting still frees everything; collection resumes after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def prepare(columns: Columns) -> list[tuple]:
    """The rows to ``stage``: tuples in ``FIELDS`` order, ``extra`` as JSON text."""
    if not len(columns):
        return []
    with collection_paused():
        dumped: dict[str, str] = {}
        extras = []
        for extra in columns.values["extra"]:
            if not extra:
                extras.append("{}")
                continue
            text = json.dumps(extra)
            extras.append(dumped.setdefault(text, text))
        return Columns(dict(columns.values, extra=extras), len(columns)).rows(NAMES)


_types: list[int] = []


def stage(rows: list[tuple]) -> None:
    """``rows`` (from ``prepare``) COPYed into the temporary ``STAGE``, dropped at commit."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        select = ", ".join(
            f"{_q(f.column)}::text AS {_q(f.column)}" if f.name == "extra" else _q(f.column)
            for f in FIELDS
        )
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {select} FROM {TABLE} WITH NO DATA"
        )
        if not _types:
            cursor.execute(
                "SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                [STAGE],
            )
            _types.extend(row[0] for row in cursor.fetchall())
        # Binary COPY with the columns' types named once: no per-value type lookup.
        with cursor.cursor.copy(f"COPY {STAGE} ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_types)
            for row in rows:
                copy.write_row(row)


def drop_stage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")


def merge_sql(*, returning: str, unless_same: list | None = None) -> str:
    """The statement taking the staged rows into the mirror by obs_id.

    With ``unless_same`` (fields), a staged row equal on those fields to the mirror's row is
    left out before the insert is tried, and a conflicting row is updated only where it
    differs: ``ON CONFLICT DO UPDATE`` locks each conflicting row (a heap write and WAL) even
    when its ``WHERE`` then skips it, so filtering first makes a pass over unchanged data cost
    reads only. Without it every staged row is written (``load_archive``'s rule).
    """
    updates = ", ".join(f"{_q(f.column)} = EXCLUDED.{_q(f.column)}" for f in FIELDS)
    where = conflict_where = ""
    if unless_same:
        same = " AND ".join(
            f"o.{_q(f.column)} IS NOT DISTINCT FROM {staged(f)}" for f in unless_same
        )
        where = f"WHERE NOT EXISTS (SELECT FROM {TABLE} o WHERE o.obs_id = s.obs_id AND {same})"
        old = ", ".join(f"{TABLE}.{_q(f.column)}" for f in unless_same)
        new = ", ".join(f"EXCLUDED.{_q(f.column)}" for f in unless_same)
        conflict_where = f"WHERE ({old}) IS DISTINCT FROM ({new})"
    return (
        f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {STAGED} FROM {STAGE} s {where} "
        f"ON CONFLICT (obs_id) DO UPDATE SET {updates} {conflict_where} RETURNING {returning}"
    )


def staged(field) -> str:
    """The staged value of ``field`` as the mirror column's type."""
    return f"s.{_q(field.column)}" + ("::jsonb" if field.name == "extra" else "")
