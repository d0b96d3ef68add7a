"""The first harvest into an empty mirror: load first, index once.

Which indexes are deferred and how they are dropped and built again is
``queries.bulk_indexes``'s rule (shared with ``synth_archive`` and ``load_archive``). What is
the harvest's own: a run that starts on an empty mirror (PostgreSQL only) defers them, and
records their exact definitions on the run in the same transaction as the drop. When the change
journal is empty too, its secondary indexes and its key to the run are deferred with them: a
first load journals every observation as new, and keeping the indexes and a deferred key
check current for each row would cost about as much as writing the observation itself. Its
pages write no journal (``harvest.merge``): the first load's journal is written once from the
committed rows (``harvest.merge.journal_first_load``), beside the final step and before the
journal's indexes are built (``build_alongside``), or else by ``restore_indexes`` before it
builds them. The final step, or any failure of the run, builds them again (so a failed run's
pages are journaled too); a killed run keeps the definitions on its row and its resumption
builds them. Nobody searches an empty mirror, so no query runs without the indexes it was
planned for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from harvest.merge import journal_first_load, loads_first
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
    # The first load's journal is written beside (complete once ``wait`` answers no error).
    journaled: bool = False


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
    second thread rebuilds the windows from the committed rows, builds their indexes, writes
    the first load's journal (``journal_first_load``: its pages wrote none) and then builds
    the journal's indexes, and both threads ANALYZE what they built: otherwise a single-core
    tail after the transaction. What waits for it stays for ``restore_indexes``: the keys
    (they validate against the projects, member OUSs and run the transaction writes), the
    ``CLUSTER`` mark, and the journal when nothing ran beside. Each step is idempotent: a
    failed or killed run does them all again on resumption.
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
        # A run here with the mirror's indexes deferred and neither a full sweep nor a dry
        # run took the first load's pages: it owes their journal.
        alongside.journaled = loads_first(run)
        alongside.start(
            "harvest-windows",
            lambda: spectral.rebuild_windows(None),
            lambda: bulk_indexes.build(bulk_indexes.indexes_of(WINDOWS, deferred)),
            lambda: _analyze(WINDOWS),
            *([lambda: journal_first_load(run)] if alongside.journaled else []),
            lambda: bulk_indexes.build(bulk_indexes.indexes_of(JOURNAL, deferred)),
        )
        alongside.analyzed = [TABLE, WINDOWS]
    return alongside


def _analyze(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def restore_indexes(run: HarvestRun, *, journaled: bool = False) -> None:
    """Build the indexes the run deferred (idempotent: a built one is skipped), after writing
    the journal of a first load's pages unless ``journaled`` (written beside the final step):
    the final step that could not run it beside, and a failed run (its resumption takes the
    merge, and reads what it touched from the journal), must not lose it. Before the
    definitions are cleared: killed in between, the next call writes it (idempotently)."""
    run.refresh_from_db(fields=["deferred_indexes", "mode", "dry_run"])
    if not run.deferred_indexes:
        return
    if not journaled and loads_first(run):
        journal_first_load(run)
    bulk_indexes.build(run.deferred_indexes)
    HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=[])
    run.deferred_indexes = []
