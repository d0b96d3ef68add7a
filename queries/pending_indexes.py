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

A load whose derived work belongs to the load itself (``load_archive``: all files load or none
does; its hierarchy is derived beside the index builds) records ``undo = FIRST_LOAD``: should
that work fail, or the load be killed before the work commits (the work clears the mark in
its own transaction, ``settle``), the mirror is emptied again (``undo_first_load``), then the
indexes are built: the load leaves nothing, as one transaction would have.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connections, models, transaction

from queries import bulk_indexes
from queries.beside import Beside
from queries.models import Observation, PendingIndexes, SpectralWindow

log = logging.getLogger(__name__)

# The advisory lock's first key (the second is the record's id): "AP" and 1.
LOCK_CLASS = 0x4150_0001
# ``PendingIndexes.undo``: a first load whose own derived work has not committed yet.
FIRST_LOAD = "first_load"


@dataclass
class Load:
    """One bulk load's record, if it dropped anything (``loading``)."""

    label: str
    using: str = "default"
    undo: str = ""  # FIRST_LOAD: the load's own derived work follows (module doc)
    record: PendingIndexes | None = None
    # What was dropped, by model: the derived work may build a table's own in its transaction.
    dropped: dict[type[models.Model], list[str]] = field(default_factory=dict)

    def drop(self, tables: list[type[models.Model]]) -> None:
        """In the load's transaction: drop ``tables``' secondary indexes and keys and record
        them (committed with the rows, or rolled back with them); the record is held by this
        connection until ``finish``."""
        definitions: list[str] = []
        for model in tables:
            table = model._meta.db_table
            self.dropped[model] = bulk_indexes.drop(table, with_foreign_keys=True, using=self.using)
            definitions += self.dropped[model]
        self.record = PendingIndexes.objects.using(self.using).create(
            label=self.label, definitions=definitions, undo=self.undo
        )
        _advisory(self.record, "pg_advisory_lock", self.using)


@contextmanager
def loading(label: str, *, undo: str = "", using: str = "default") -> Iterator[Load]:
    """Around the transaction that writes a load's rows (not inside it): should the block
    raise, that transaction rolled back the record with the rows, and the lock on it goes
    too (an aborted transaction could not have let go of it)."""
    load = Load(label, using, undo)
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
    on ``table`` built on a connection of their own while ``work`` runs on this one; then the
    other tables' indexes (windows, projects...) on that connection while ``table``'s keys are
    validated on this one; then ``finish``. ``work``'s error is raised after the indexes are
    built (the mirror is never left without them), and after ``undo_first_load`` when the
    record says so; else the first build's.

    Inside a transaction of the caller's (tests; a caller's own ``atomic``), the rows are not
    committed and another connection would wait for them for ever: everything runs here, one
    after the other.
    """
    indexes = bulk_indexes.indexes_of(table, record.definitions)
    if connections[using].in_atomic_block or not indexes:
        try:
            _undone_if_it_fails(record, work, using)
        finally:
            finish(record, using=using)
        return
    first = Beside(using)
    first.start("index-build-beside", lambda: bulk_indexes.build(indexes, using=using))
    then = Beside(using)
    try:
        _undone_if_it_fails(record, work, using, before_undo=first.wait)
    finally:
        first.wait()
        # Each on a table the other does not lock: the other tables' indexes (the windows',
        # the projects') there, the observations' keys here (each reads its table once).
        others = [d for d in record.definitions if d.startswith("CREATE ") and d not in indexes]
        then.start("index-build-beside", lambda: bulk_indexes.build(others, using=using))
        prefix = f"ALTER TABLE {connections[using].ops.quote_name(table)} ADD CONSTRAINT "
        try:
            bulk_indexes.build([d for d in record.definitions if d.startswith(prefix)], using=using)
        finally:
            then.wait()
            for error in first.errors + then.errors:
                log.error("indexes built beside %s failed: %s", record.label, error)
            finish(record, using=using)  # whatever is left (idempotent), and the record
    error = first.wait() or then.wait()
    if error is not None:
        raise error


def _undone_if_it_fails(
    record: PendingIndexes,
    work: Callable[[], None],
    using: str,
    *,
    before_undo: Callable[[], object] = lambda: None,
) -> None:
    try:
        work()
    except BaseException:
        if record.undo == FIRST_LOAD:
            before_undo()  # the beside build's locks go first
            undo_first_load(using=using)
        raise


def settle(record: PendingIndexes, *, using: str = "default") -> None:
    """In the transaction of the load's own derived work: once it commits, the load is done
    and only the indexes remain to build, whatever happens next."""
    PendingIndexes.objects.using(using).filter(pk=record.pk).update(undo="")
    record.undo = ""


def undo_first_load(*, using: str = "default") -> None:
    """Empty the mirror again after a first load that did not finish (``FIRST_LOAD``): it
    started from a mirror with no observation, project or member OUS (``load_archive`` takes
    this path only then), so every row of these tables is the load's. Its derived work, rolled
    back, wrote nothing else. Raw deletes for the million rows (their tables' keys to the
    observations were dropped with the indexes); the ORM for the projects, whose deletion
    Django cascades to what may have been attached to them meanwhile."""
    from queries.models import MemberOUS, ObservedPosition, Project, ProjectSummary

    quote = connections[using].ops.quote_name
    derived = (
        SpectralWindow._meta.db_table,
        ObservedPosition._meta.db_table,
        ProjectSummary._meta.db_table,
        Observation._meta.db_table,
    )
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for table in derived:
            cursor.execute(f"DELETE FROM {quote(table)}")
        MemberOUS.objects.using(using).all().delete()
        Project.objects.using(using).all().delete()
    log.warning("a first load that did not finish was undone: the mirror is empty again")


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
        if record.undo == FIRST_LOAD:
            undo_first_load(using=using)  # killed before its derived work committed
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
