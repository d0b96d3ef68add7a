"""The first harvest into an empty mirror: load first, index once.

Which indexes are deferred and how they are dropped and built again is
``queries.bulk_indexes``'s rule (shared with ``synth_archive`` and ``load_archive``). What is
the harvest's own: a run that starts on an empty mirror (PostgreSQL only) defers them, and
records their exact definitions on the run in the same transaction as the drop. When the change
journal is empty too, its secondary indexes and its key to the run are deferred with them: a
first load writes a journal row per observation, and keeping six indexes and a deferred key
check current for each cost about as much as writing the observation itself. The final
step, or any failure of the run, builds them again; a killed run keeps the definitions on its
row and its resumption builds them. Nobody searches an empty mirror, so no query runs without
the indexes it was planned for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from harvest.models import HarvestMode, HarvestRun, ObservationChange
from queries import bulk_indexes, spectral
from queries.beside import Beside
from queries.models import Observation, SpectralWindow

TABLE = Observation._meta.db_table
JOURNAL = ObservationChange._meta.db_table
WINDOWS = SpectralWindow._meta.db_table


def defer_indexes_if_empty(run: HarvestRun) -> None:
    """Drop the secondary indexes for a first load into an empty mirror (see module doc)."""
    if not bulk_indexes.is_postgresql() or run.dry_run or run.deferred_indexes:
        return
    if run.rows_seen or Observation.objects.exists():
        return
    with transaction.atomic():
        # Foreign keys too: linking a million new rows to their projects and member OUSs
        # would otherwise queue two checks a row; added back, each is validated in one join.
        definitions = bulk_indexes.drop(TABLE, with_foreign_keys=True)
        # The windows of no rows: empty too. Their key to the observations goes now rather
        # than in the final step, where dropping it would lock the observation table against
        # the index builds running beside it (``build_alongside``).
        definitions += bulk_indexes.drop(WINDOWS, with_foreign_keys=True)
        if not ObservationChange.objects.exists():
            # Only an empty journal: rebuilding over older runs' rows would cost more.
            definitions += bulk_indexes.drop(JOURNAL, with_foreign_keys=True)
        run.deferred_indexes = definitions
        HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=run.deferred_indexes)


@dataclass
class Alongside(Beside):
    """The final step's work running beside its transaction (``build_alongside``)."""

    # The spectral windows are rebuilt beside: the transaction must not rebuild them too.
    windows: bool = False
    # Tables whose planner statistics are fresh once ``wait`` answers no error.
    analyzed: list[str] = field(default_factory=list)


def build_alongside(run: HarvestRun) -> Alongside:
    """Start what the final step of a first load can do beside its transaction, each thread
    on a connection of its own; ``Alongside.wait`` waits for them and answers their error.

    That transaction only reads the observation table on a first load (its rows were written
    linked; ``queries.hierarchy_sql`` updates none), so ``CREATE INDEX``, which only keeps
    writers out, runs at the same time: on this 2-core machine the final step of a 1M-row
    first load took 60 s against 102 s one after the other (bench/README.md). Unless the run
    is a full sweep (whose transaction deletes the rows it did not see, and journals them),
    the transaction writes neither the spectral windows (their key to the observations went
    with the first load's indexes: ``defer_indexes_if_empty``) nor the journal either, so a
    second thread rebuilds the windows from the committed rows, builds their indexes and the
    journal's, and both threads ANALYZE what they built: otherwise a single-core tail after
    the transaction. What waits for it stays for ``restore_indexes``: the keys (they validate
    against the projects, member OUSs and run the transaction writes), the ``CLUSTER`` mark.
    Each step is idempotent: a failed or killed run does them all again on resumption.
    """
    run.refresh_from_db(fields=["deferred_indexes"])
    deferred = run.deferred_indexes
    alongside = Alongside()
    observation = bulk_indexes.indexes_of(TABLE, deferred)
    if not observation or connection.in_atomic_block:
        # Inside a transaction of the caller's (uncommitted rows would keep the other
        # connection's CREATE INDEX waiting for ever): ``restore_indexes`` builds them after.
        return alongside
    beside = not run.dry_run and run.mode != HarvestMode.FULL
    alongside.start(
        "harvest-index-build",
        lambda: bulk_indexes.build(observation),
        *([lambda: _analyze(TABLE)] if beside else []),
    )
    if beside:
        alongside.windows = True
        alongside.start(
            "harvest-windows",
            lambda: spectral.rebuild_windows(None),
            lambda: bulk_indexes.build(bulk_indexes.indexes_of(WINDOWS, deferred)),
            lambda: _analyze(WINDOWS),
            lambda: bulk_indexes.build(bulk_indexes.indexes_of(JOURNAL, deferred)),
        )
        alongside.analyzed = [TABLE, WINDOWS]
    return alongside


def _analyze(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def restore_indexes(run: HarvestRun) -> None:
    """Build the indexes the run deferred (idempotent: a built one is skipped)."""
    run.refresh_from_db(fields=["deferred_indexes"])
    if not run.deferred_indexes:
        return
    bulk_indexes.build(run.deferred_indexes)
    HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=[])
    run.deferred_indexes = []
