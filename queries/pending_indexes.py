"""A bulk load's indexes built after its rows are committed, beside the work that follows.

Inside one transaction nothing runs beside an index build: one backend does everything, one
statement after the other. A first load of a million observations spent about 17 s building
the observation table's indexes and keys, then 9 s (``synth_archive``) to 22 s
(``load_archive``) deriving the hierarchy, summaries, positions and spectral windows, which
only *read* the observations, while one of the two cores mostly waited. So such a load:

1. drops the observation table's secondary indexes and keys (``queries.bulk_indexes``'s rule,
   ``Load.drop``) in the transaction that writes the rows, and records their definitions in a
   ``PendingIndexes`` row of the same transaction: the rows and the record commit together;
2. after the commit, builds the observation table's indexes on a connection of its own while
   the derived work runs on the caller's (``build_beside``); ``CREATE INDEX`` keeps writers
   of that table out, and the derived work writes other tables;
3. then adds the keys and marks back on the caller's connection (they lock the tables the
   derived work writes), and deletes the record.

A load killed between 1 and 3 leaves its record: the next bulk load builds what it names first
(``build_abandoned``), as a harvest's resumption builds what its run recorded
(``harvest.bulk``). While its load runs, a record is held by that load's connection through a
session advisory lock, so another load never builds indexes a live load is building.

Only a first load takes this path (``bulk_indexes.worth_deferring``: as many rows as the table
holds): nobody searches an empty mirror in the seconds its indexes are missing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, models, transaction

from queries import bulk_indexes
from queries.models import PendingIndexes

log = logging.getLogger(__name__)

# The advisory lock's first key (the second is the record's id): "AP" and 1.
LOCK_CLASS = 0x4150_0001


@dataclass
class Load:
    """One bulk load's record, if it dropped anything (``loading``)."""

    label: str
    using: str = "default"
    record: PendingIndexes | None = None

    def drop(self, tables: list[type[models.Model]]) -> None:
        """In the load's transaction: drop ``tables``' secondary indexes and keys and record
        them (committed with the rows, or rolled back with them); the record is held by this
        connection until ``finish``."""
        definitions: list[str] = []
        for model in tables:
            table = model._meta.db_table
            definitions += bulk_indexes.drop(table, with_foreign_keys=True, using=self.using)
        self.record = PendingIndexes.objects.using(self.using).create(
            label=self.label, definitions=definitions
        )
        _advisory(self.record, "pg_advisory_lock", self.using)


@contextmanager
def loading(label: str, *, using: str = "default") -> Iterator[Load]:
    """Around the transaction that writes a load's rows (not inside it): should the block
    raise, that transaction rolled back the record with the rows, and the lock on it goes
    too (an aborted transaction could not have let go of it)."""
    load = Load(label, using)
    try:
        yield load
    except BaseException:
        if load.record is not None:
            release(load.record, using=using)
        raise


def build_beside(
    record: PendingIndexes,
    work: Callable[[], None],
    *,
    table: str,
    using: str = "default",
) -> None:
    """After the commit of ``record``'s transaction: ``record``'s ``CREATE INDEX`` statements
    on ``table`` built on a connection of their own while ``work`` runs on this one; then
    ``finish``. ``work``'s error is raised after the indexes are built (the mirror is never
    left without them); else the build's.

    Inside a transaction of the caller's (tests; a caller's own ``atomic``), the rows are not
    committed and another connection would wait for them for ever: everything runs here, one
    after the other.
    """
    indexes = [d for d in record.definitions if _creates_index_on(d, table)]
    if connections[using].in_atomic_block or not indexes:
        try:
            work()
        finally:
            finish(record, using=using)
        return
    failed: list[BaseException] = []

    def build() -> None:
        try:
            bulk_indexes.build(indexes, using=using)
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)
        finally:
            connections[using].close()  # this thread's own connection

    worker = threading.Thread(target=build, name="index-build-beside", daemon=True)
    worker.start()
    try:
        work()
    finally:
        worker.join()
        if failed:
            log.error("indexes built beside %s failed: %s", record.label, failed[0])
        finish(record, using=using)  # whatever the beside build left, and the keys
    if failed:
        raise failed[0]


def finish(record: PendingIndexes, *, using: str = "default") -> None:
    """Build everything ``record`` names (idempotent: what exists is skipped), then delete it
    and release it."""
    try:
        bulk_indexes.build(record.definitions, using=using)
        PendingIndexes.objects.using(using).filter(pk=record.pk).delete()
    finally:
        release(record, using=using)


def release(record: PendingIndexes, *, using: str = "default") -> None:
    """Let go of ``record`` (after ``finish``, or when its transaction rolled back)."""
    _advisory(record, "pg_advisory_unlock", using)


def build_abandoned(*, using: str = "default") -> int:
    """Build what loads killed after their commit left recorded; returns how many records.

    A record whose advisory lock is free has no live load; one whose lock is held is being
    built by its own load and is left alone."""
    if not bulk_indexes.is_postgresql(using):
        return 0
    built = 0
    for record in PendingIndexes.objects.using(using).order_by("pk"):
        if not _advisory(record, "pg_try_advisory_lock", using):
            continue
        log.warning("building the indexes %s left pending (record %s)", record.label, record.pk)
        with transaction.atomic(using=using):
            finish(record, using=using)
        built += 1
    return built


def _advisory(record: PendingIndexes, function: str, using: str) -> bool:
    if not bulk_indexes.is_postgresql(using):
        return True
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [LOCK_CLASS, record.pk])
        result = cursor.fetchone()[0]
    return result is not False


def _creates_index_on(definition: str, table: str) -> bool:
    """Whether ``definition`` is a ``CREATE INDEX`` on ``table`` (as pg_get_indexdef writes
    it: schema-qualified)."""
    return (
        re.match(rf"CREATE INDEX \S+ ON (\S+\.)?{re.escape(table)} USING ", definition) is not None
    )
