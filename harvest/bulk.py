"""The first harvest into an empty mirror: load first, index once.

Which indexes are deferred and how they are dropped and built again is
``queries.bulk_indexes``'s rule (shared with ``synth_archive`` and ``load_archive``). What is
the harvest's own: a run that starts on an empty mirror (PostgreSQL only) defers them, and
records their exact definitions on the run in the same transaction as the drop. The final
step, or any failure of the run, builds them again; a killed run keeps the definitions on its
row and its resumption builds them. Nobody searches an empty mirror, so no query runs without
the indexes it was planned for.
"""

from __future__ import annotations

from django.db import transaction

from harvest.models import HarvestRun
from queries import bulk_indexes
from queries.models import Observation

TABLE = Observation._meta.db_table


def defer_indexes_if_empty(run: HarvestRun) -> None:
    """Drop the secondary indexes for a first load into an empty mirror (see module doc)."""
    if not bulk_indexes.is_postgresql() or run.dry_run or run.deferred_indexes:
        return
    if run.rows_seen or Observation.objects.exists():
        return
    with transaction.atomic():
        # Foreign keys too: linking a million new rows to their projects and member OUSs
        # would otherwise queue two checks a row; added back, each is validated in one join.
        run.deferred_indexes = bulk_indexes.drop(TABLE, with_foreign_keys=True)
        HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=run.deferred_indexes)


def restore_indexes(run: HarvestRun) -> None:
    """Build the indexes the run deferred (idempotent: a built one is skipped)."""
    run.refresh_from_db(fields=["deferred_indexes"])
    if not run.deferred_indexes:
        return
    bulk_indexes.build(run.deferred_indexes)
    HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=[])
    run.deferred_indexes = []
