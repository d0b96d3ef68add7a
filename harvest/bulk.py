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

import re
import threading
from collections.abc import Callable

from django.db import connection, transaction

from harvest.models import HarvestRun, ObservationChange
from queries import bulk_indexes
from queries.models import Observation, SpectralWindow

TABLE = Observation._meta.db_table
JOURNAL = ObservationChange._meta.db_table
WINDOWS = SpectralWindow._meta.db_table
# An index of the observation table as pg_get_indexdef writes it (schema-qualified).
_OBSERVATION_INDEX = re.compile(rf"CREATE INDEX \S+ ON (\S+\.)?{TABLE} USING ")


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


def build_alongside(run: HarvestRun) -> Callable[[], BaseException | None]:
    """Start building the observation table's deferred indexes on a connection of their own,
    beside the final step's transaction; returns what waits for them and answers the build's
    error, if any (raised by the caller, unless it has its own to raise).

    That transaction only reads the observation table on a first load (its rows were written
    linked; ``queries.hierarchy_sql`` updates none), so ``CREATE INDEX``, which only keeps
    writers out, runs at the same time: on this 2-core machine the final step of a 1M-row
    first load took 60 s against 102 s one after the other (bench/README.md). What waits
    for the transaction stays for ``restore_indexes``: the keys (they validate against the
    projects and member OUSs being written), the ``CLUSTER`` mark, the other tables' indexes.
    """
    run.refresh_from_db(fields=["deferred_indexes"])
    indexes = [d for d in run.deferred_indexes if _OBSERVATION_INDEX.match(d)]
    if not indexes or connection.in_atomic_block:
        # Inside a transaction of the caller's (uncommitted rows would keep the other
        # connection's CREATE INDEX waiting for ever): ``restore_indexes`` builds them after.
        return lambda: None
    failed: list[BaseException] = []

    def build() -> None:
        try:
            bulk_indexes.build(indexes)
        except BaseException as exc:  # handed to the caller's thread by wait()
            failed.append(exc)
        finally:
            connection.close()  # this thread's own connection

    worker = threading.Thread(target=build, name="harvest-index-build", daemon=True)
    worker.start()

    def wait() -> BaseException | None:
        worker.join()
        return failed[0] if failed else None

    return wait


def restore_indexes(run: HarvestRun) -> None:
    """Build the indexes the run deferred (idempotent: a built one is skipped)."""
    run.refresh_from_db(fields=["deferred_indexes"])
    if not run.deferred_indexes:
        return
    bulk_indexes.build(run.deferred_indexes)
    HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=[])
    run.deferred_indexes = []
