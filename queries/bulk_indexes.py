"""Loading many rows at once: build a table's secondary indexes once, not row by row.

Keeping 25 indexes (four of them trigram GIN) current row by row is most of the cost of
inserting a million observations; building each once over the loaded table is several times
cheaper. The one rule, used by the harvest's first load (``harvest.bulk``), ``synth_archive``
and ``load_archive``:

- **what** is deferred: every index of the table except the primary key, unique indexes and
  indexes that back a constraint (``obs_id``'s unique constraint, which ``ON CONFLICT`` and the
  data's integrity need), plus, for callers that ask, the table's foreign keys (checked row
  by row at commit otherwise; validated in one join when added back);
- **how**: their exact definitions (with which one ``CLUSTER`` uses, and any statistics
  target set on an index column, which ``pg_get_indexdef`` leaves out) are read from the
  catalogue and returned, so the caller can keep them (the harvest records them on its run: a
  killed run rebuilds them on resumption); ``build`` creates them again, idempotently, with
  ``maintenance_work_mem`` raised for the session;
- **when**: ``worth_deferring``: at least ``DEFER_MIN_ROWS`` rows arrive and at least as many
  as the table holds (rebuilding over a large table for a few rows would cost more).

PostgreSQL only; elsewhere nothing is deferred.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, models

# Below this many incoming rows, maintaining the indexes row by row is cheap enough.
DEFER_MIN_ROWS = 10_000
# Per session while indexes are built: a 1M-row btree or trigram GIN build then sorts in
# memory (the server default, 64MB, spills to temporary files).
BUILD_MEMORY = "256MB"
_ALTER = "ALTER TABLE "
_ALTER_INDEX = "ALTER INDEX "


def is_postgresql(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def worth_deferring(model: type[models.Model], incoming: int, *, using: str = "default") -> bool:
    """Whether loading ``incoming`` rows into ``model``'s table should defer its indexes."""
    if not is_postgresql(using) or incoming < DEFER_MIN_ROWS:
        return False
    return incoming >= model._default_manager.using(using).count()


def secondary_indexes(table: str, *, using: str = "default") -> list[tuple[str, str]]:
    """(name, definition) of ``table``'s indexes that back no constraint (see module doc); the
    index ``CLUSTER`` uses is followed by the statement that marks it again, and an index
    column with its own statistics target (``queries`` migration 0013) by the one that sets
    it again."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisclustered, "
            "ARRAY(SELECT ARRAY[a.attnum, a.attstattarget] FROM pg_attribute a "
            "      WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0 ORDER BY a.attnum) "
            "FROM pg_index i WHERE i.indrelid = %s::regclass AND NOT i.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY i.indexrelid",
            [table],
        )
        rows = cursor.fetchall()
    quoted = connections[using].ops.quote_name(table)
    out = []
    for name, definition, clustered, targets in rows:
        out.append((name, definition))
        if clustered:
            out.append((name, f"{_ALTER}{quoted} CLUSTER ON {name}"))
        for column, target in targets:
            out.append(
                (name, f"{_ALTER_INDEX}{name} ALTER COLUMN {column} SET STATISTICS {target}")
            )
    return out


def indexes_of(table: str, definitions: list[str]) -> list[str]:
    """The ``CREATE INDEX`` statements of ``table`` among ``definitions`` (as
    ``pg_get_indexdef`` writes them: schema-qualified)."""
    index = re.compile(rf"CREATE INDEX \S+ ON (\S+\.)?{re.escape(table)} USING ")
    return [d for d in definitions if index.match(d)]


def foreign_keys(table: str, *, using: str = "default") -> list[tuple[str, str]]:
    """(name, ``ALTER TABLE ... ADD CONSTRAINT`` statement) of ``table``'s foreign keys."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        rows = cursor.fetchall()
    quoted = connections[using].ops.quote_name(table)
    return [
        (name, f"{_ALTER}{quoted} ADD CONSTRAINT {name} {definition}") for name, definition in rows
    ]


def drop(table: str, *, with_foreign_keys: bool = False, using: str = "default") -> list[str]:
    """Drop ``table``'s secondary indexes (and foreign keys); return what ``build`` needs."""
    definitions = []
    quoted = connections[using].ops.quote_name(table)
    with connections[using].cursor() as cursor:
        # Checks still queued in this transaction (rows deleted just before, as
        # ``synth_archive --replace`` does) forbid ALTER TABLE: run them now, as build does.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        try:
            if with_foreign_keys:
                for name, statement in foreign_keys(table, using=using):
                    cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {name}")
                    definitions.append(statement)
            for name, definition in secondary_indexes(table, using=using):
                if not definition.startswith((_ALTER, _ALTER_INDEX)):
                    cursor.execute(f"DROP INDEX {name}")
                definitions.append(definition)
        finally:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return definitions


def build(definitions: list[str], *, using: str = "default") -> None:
    """Create what ``drop`` returned; an index or key that exists already is skipped."""
    if not definitions:
        return
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_setting('maintenance_work_mem')")
        (memory,) = cursor.fetchone()
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [BUILD_MEMORY])
        # Checks still queued in this transaction (deferred keys of rows just written) forbid
        # CREATE INDEX and ALTER TABLE: run them now, then defer again as Django's keys are.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        try:
            # Keys last: their validation is then the only check left on the rows.
            for definition in sorted(definitions, key=lambda d: " ADD CONSTRAINT " in d):
                if " ADD CONSTRAINT " in definition:
                    _add_foreign_key(cursor, definition)
                elif definition.startswith((_ALTER, _ALTER_INDEX)):  # CLUSTER ON, statistics
                    cursor.execute(definition)  # both idempotent, after their index
                else:
                    cursor.execute(
                        definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                    )
        finally:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [memory])


def _add_foreign_key(cursor, statement: str) -> None:
    table, rest = statement.removeprefix(_ALTER).split(" ADD CONSTRAINT ", 1)
    name = rest.split(" ", 1)[0]
    cursor.execute(
        "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s", [table, name]
    )
    if cursor.fetchone() is None:
        cursor.execute(statement)


@contextmanager
def deferred(
    tables: list[tuple[type[models.Model], int]],
    *,
    with_foreign_keys: bool = False,
    using: str = "default",
) -> Iterator[None]:
    """Inside the caller's transaction: each (model, incoming rows) worth it (see
    ``worth_deferring``) loads without its secondary indexes, built again on the way out.
    An error rolls the whole transaction back, the dropped indexes with it."""
    definitions: list[str] = []
    for model, incoming in tables:
        if worth_deferring(model, incoming, using=using):
            table = model._meta.db_table
            definitions += drop(table, with_foreign_keys=with_foreign_keys, using=using)
    yield
    build(definitions, using=using)
