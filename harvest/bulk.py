"""The first harvest into an empty mirror: load first, index once.

Keeping 25 indexes (two of them trigram GIN) current row by row is most of the cost of
inserting a million rows; building each index once over the loaded table is several times
cheaper. So a run that starts on an empty mirror (PostgreSQL only) drops the observation
table's secondary indexes, keeping the primary key and the ``obs_id`` unique index the merge's
``ON CONFLICT`` needs, and records their exact definitions on the run in the same transaction.
The final step, or any failure of the run, builds them again; a killed run keeps the
definitions on its row and its resumption builds them. Nobody searches an empty mirror, so no
query runs without the indexes it was planned for.
"""

from __future__ import annotations

from django.db import connection, transaction

from harvest.models import HarvestRun
from queries.models import Observation

TABLE = Observation._meta.db_table


def defer_indexes_if_empty(run: HarvestRun) -> None:
    """Drop the secondary indexes for a first load into an empty mirror (see module doc)."""
    if connection.vendor != "postgresql" or run.dry_run or run.deferred_indexes:
        return
    if run.rows_seen or Observation.objects.exists():
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
            "AND NOT (i.indisunique AND i.indnatts = 1 AND i.indkey[0] = ("
            "  SELECT attnum FROM pg_attribute WHERE attrelid = %s::regclass "
            "  AND attname = 'obs_id')) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [TABLE, TABLE],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        run.deferred_indexes = [definition for _, definition in indexes]
        HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=run.deferred_indexes)


def restore_indexes(run: HarvestRun) -> None:
    """Build the indexes the run deferred (idempotent: a built one is skipped)."""
    run.refresh_from_db(fields=["deferred_indexes"])
    if not run.deferred_indexes:
        return
    with connection.cursor() as cursor:
        for definition in run.deferred_indexes:
            cursor.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    HarvestRun.objects.filter(pk=run.pk).update(deferred_indexes=[])
    run.deferred_indexes = []
