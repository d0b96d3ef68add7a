"""Normalised observation rows into PostgreSQL through a staging table (COPY, then one merge).

The loader normalises a file or a harvested page into ``Columns``; ``prepare`` turns them into
the tuples a binary ``COPY`` sends (``extra`` as JSON text, dumped once per distinct value, so
no per-row JSON adapter runs), ``stage`` COPYs them (``copy_binary``, which ``synth_archive``
and the harvest's first load use too) into a temporary table dropped at commit, and
``merge_sql`` is the ``INSERT ... SELECT ... ON CONFLICT (obs_id) DO UPDATE`` that takes them
into the mirror. The harvest wraps that statement with its change journal; ``load_archive``
counts what it created and updated. ``prepare`` is plain Python with no database access, so a
harvest runs it in its read-ahead thread while the previous page is being merged.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import connection
from psycopg.adapt import Dumper
from psycopg.pq import Format

from queries.models import Observation

if TYPE_CHECKING:
    from queries.archive.loader import Columns

# Every column a source decides; the hierarchy links are derived after the merge.
FIELDS = [
    f for f in Observation._meta.concrete_fields if f.name not in ("id", "project", "member_ous")
]
NAMES = [f.name for f in FIELDS]
TABLE = Observation._meta.db_table
STAGE = "observation_stage"
JSONB_OID = 3802


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


# The hierarchy links, which a bulk load may write with the rows (``stage(linked=True)``).
LINKS = ["project_id", "member_ous_id"]


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
        values = dict(columns.values, extra=extras)
        return list(zip(*(values[n] for n in NAMES), strict=True))


class _JsonTextDumper(Dumper):
    """A jsonb value sent as the JSON text it already is (binary jsonb: version 1 + text)."""

    format = Format.BINARY
    oid = JSONB_OID

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def copy_binary(cursor, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
    """``rows`` into ``table``'s ``columns`` by binary COPY, the types named once (no per-value
    type lookup, no text formatting of numbers). A jsonb column takes JSON text."""
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    oids = dict(cursor.fetchall())
    raw = cursor.cursor  # psycopg's own cursor under Django's wrapper
    raw.adapters.register_dumper(None, _JsonTextDumper)  # this cursor only
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    target = connection.ops.quote_name(table)
    # Raised as Django's errors (IntegrityError...), as cursor.execute would.
    with cursor.db.wrap_database_errors:
        with raw.copy(f"COPY {target} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([oids[c] for c in columns])
            for row in rows:
                copy.write_row(row)


def stage(rows: list[tuple], *, linked: bool = False) -> None:
    """``rows`` (from ``prepare``) COPYed into the temporary ``STAGE``, dropped at commit;
    ``linked``: each row ends with its ``LINKS`` (project and member OUS ids)."""
    names = [f.column for f in FIELDS] + (LINKS if linked else [])
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
            f"SELECT {', '.join(map(_q, names))} FROM {TABLE} WITH NO DATA"
        )
        copy_binary(cursor, STAGE, names, rows)


def upsert_staged(*, linked: bool = False) -> tuple[int, int]:
    """Every staged row into the mirror, written whether or not it changed (the loader's
    rule: a reloaded file is the new truth, source_file included); (created, updated).
    ``linked``: the rows were staged with their links, which the mirror's rows take too."""
    with connection.cursor() as cursor:
        merged = merge_sql(returning="(xmax = 0) AS inserted", linked=linked)
        cursor.execute(
            f"WITH merged AS ({merged}) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) "
            "FROM merged"
        )
        created, updated = cursor.fetchone()
    drop_stage()
    return created, updated


def drop_stage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")


def merge_sql(*, returning: str, unless_same: list | None = None, linked: bool = False) -> str:
    """The statement taking the staged rows into the mirror by obs_id.

    With ``unless_same`` (fields), a staged row equal on those fields to the mirror's row is
    left out before the insert is tried, and a conflicting row is updated only where it
    differs: ``ON CONFLICT DO UPDATE`` locks each conflicting row (a heap write and WAL) even
    when its ``WHERE`` then skips it, so filtering first makes a pass over unchanged data cost
    reads only. Without it every staged row is written (``load_archive``'s rule). ``linked``:
    the staged rows carry ``LINKS`` (see ``stage``), inserted and updated with the rest.
    """
    names = [f.column for f in FIELDS] + (LINKS if linked else [])
    updates = ", ".join(f"{_q(name)} = EXCLUDED.{_q(name)}" for name in names)
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
        f"INSERT INTO {TABLE} ({', '.join(map(_q, names))}) "
        f"SELECT {', '.join(f's.{_q(name)}' for name in names)} FROM {STAGE} s {where} "
        f"ON CONFLICT (obs_id) DO UPDATE SET {updates} {conflict_where} RETURNING {returning}"
    )


def staged(field) -> str:
    """The staged value of ``field``."""
    return f"s.{_q(field.column)}"
