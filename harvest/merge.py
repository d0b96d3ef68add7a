"""Applying one page of upstream rows to the mirror, and recording what it changed.

On PostgreSQL a page is COPYed into a temporary staging table and merged with one
``INSERT ... ON CONFLICT (obs_id) DO UPDATE ... WHERE <row differs>`` whose ``RETURNING`` feeds
the ``ObservationChange`` rows in the same statement: an unchanged row is neither written nor
recorded, so harvesting the same data twice changes nothing. The statement's snapshot still
holds the old row, which is where ``old_release_date`` comes from. Elsewhere (SQLite, the
embedded mode) the same result comes from a comparison in Python and the loader's bulk upsert.

The caller runs ``apply_page`` in the transaction that also moves the run's cursor, so a page
is applied entirely together with its cursor, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from psycopg.types.json import Jsonb

from harvest.models import ChangeKind, HarvestRun, ObservationChange, SweptObservation
from queries.archive.loader import upsert
from queries.models import Observation

# Every column the upstream decides; the hierarchy links are derived after the merge.
FIELDS = [
    f for f in Observation._meta.concrete_fields if f.name not in ("id", "project", "member_ous")
]
# source_file names where a row came from, not what it says: a row harvested from a new URL
# with the same values is unchanged.
COMPARED = [f for f in FIELDS if f.name != "source_file"]
TABLE = Observation._meta.db_table
STAGE = "harvest_stage"


@dataclass
class PageResult:
    new: int = 0
    changed: int = 0


def apply_page(run: HarvestRun, observations: Sequence[dict[str, object]]) -> PageResult:
    """Merge ``observations`` (``normalise_values`` dicts, unique obs_id) into the mirror."""
    if not observations:
        return PageResult()
    if connection.vendor == "postgresql":
        return _apply_postgresql(run, observations)
    return _apply_portable(run, observations)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


_NAMES = [f.name for f in FIELDS]
_EXTRA = _NAMES.index("extra")


def _row(values: dict[str, object]) -> list:
    row = [values[name] for name in _NAMES]
    row[_EXTRA] = Jsonb(row[_EXTRA])
    return row


def _stage(observations: Sequence[dict[str, object]]) -> None:
    columns = ", ".join(_q(f.column) for f in FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
            f"SELECT {columns} FROM {TABLE} WITH NO DATA"
        )
        # Binary COPY with the columns' types named once: no per-value type lookup.
        types = _pg_types(cursor)
        with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for values in observations:
                copy.write_row(_row(values))


_types: list[int] = []


def _pg_types(cursor) -> list[int]:
    """The staged columns' PostgreSQL type oids, in column order."""
    if not _types:
        cursor.execute(
            "SELECT atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [STAGE],
        )
        _types.extend(row[0] for row in cursor.fetchall())
    return _types


def _apply_postgresql(run: HarvestRun, observations: Sequence[dict[str, object]]) -> PageResult:
    _stage(observations)
    columns = ", ".join(_q(f.column) for f in FIELDS)
    updates = ", ".join(f"{_q(f.column)} = EXCLUDED.{_q(f.column)}" for f in FIELDS)
    old = ", ".join(f"{TABLE}.{_q(f.column)}" for f in COMPARED)
    new = ", ".join(f"EXCLUDED.{_q(f.column)}" for f in COMPARED)
    changes = ObservationChange._meta.db_table
    with connection.cursor() as cursor:
        if run.mode == "full":
            # Even a dry run remembers what it saw, to report what a real sweep would remove.
            cursor.execute(
                f"INSERT INTO {SweptObservation._meta.db_table} (run_id, obs_id) "
                f"SELECT %s, obs_id FROM {STAGE} ON CONFLICT DO NOTHING",
                [run.pk],
            )
        if run.dry_run:
            stage_values = ", ".join(f"s.{_q(f.column)}" for f in COMPARED)
            mirror_values = ", ".join(f"o.{_q(f.column)}" for f in COMPARED)
            cursor.execute(
                f"SELECT count(*) FILTER (WHERE o.id IS NULL), count(*) FILTER (WHERE o.id IS NOT "
                f"NULL AND ({mirror_values}) IS DISTINCT FROM ({stage_values})) "
                f"FROM {STAGE} s LEFT JOIN {TABLE} o ON o.obs_id = s.obs_id"
            )
            new_count, changed_count = cursor.fetchone()
            return PageResult(new=new_count, changed=changed_count)
        cursor.execute(
            f"""
            WITH merged AS (
                INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM {STAGE}
                ON CONFLICT (obs_id) DO UPDATE SET {updates}
                WHERE ({old}) IS DISTINCT FROM ({new})
                RETURNING obs_id, member_ous_uid, proposal_id, obs_release_date,
                          (xmax = 0) AS inserted
            ), recorded AS (
                INSERT INTO {changes} (run_id, obs_id, member_ous_uid, proposal_id, kind,
                                       old_release_date, new_release_date, created_at)
                SELECT %s, m.obs_id, m.member_ous_uid, m.proposal_id,
                       CASE WHEN m.inserted THEN %s ELSE %s END,
                       o.obs_release_date, m.obs_release_date, now()
                FROM merged m LEFT JOIN {TABLE} o ON o.obs_id = m.obs_id AND NOT m.inserted
                ON CONFLICT DO NOTHING
                RETURNING kind
            )
            SELECT count(*) FILTER (WHERE kind = %s), count(*) FILTER (WHERE kind = %s)
            FROM recorded
            """,
            [run.pk, ChangeKind.NEW, ChangeKind.CHANGED, ChangeKind.NEW, ChangeKind.CHANGED],
        )
        new_count, changed_count = cursor.fetchone()
        cursor.execute(f"DROP TABLE {STAGE}")
    return PageResult(new=new_count, changed=changed_count)


def _apply_portable(run: HarvestRun, observations: Sequence[dict[str, object]]) -> PageResult:
    """The same merge without COPY: compare in Python, upsert what differs with the loader."""
    names = [f.attname for f in COMPARED]
    by_id = {values["obs_id"]: values for values in observations}
    current = {
        row["obs_id"]: row
        for row in Observation.objects.filter(obs_id__in=list(by_id)).values(*names)
    }
    new, changed = [], []
    for obs_id, values in by_id.items():
        row = current.get(obs_id)
        if row is None:
            new.append(values)
        elif any(row[n] != values[n] for n in names):
            changed.append(values)
    result = PageResult(new=len(new), changed=len(changed))
    if run.mode == "full":
        SweptObservation.objects.bulk_create(
            [SweptObservation(run=run, obs_id=obs_id) for obs_id in by_id], ignore_conflicts=True
        )
    if run.dry_run or not (new or changed):
        return result
    upsert([Observation(**values) for values in (*new, *changed)])
    ObservationChange.objects.bulk_create(
        [
            ObservationChange(
                run=run,
                obs_id=values["obs_id"],
                member_ous_uid=values["member_ous_uid"],
                proposal_id=values["proposal_id"],
                kind=kind,
                old_release_date=(current.get(values["obs_id"]) or {}).get("obs_release_date"),
                new_release_date=values["obs_release_date"],
            )
            for kind, group in ((ChangeKind.NEW, new), (ChangeKind.CHANGED, changed))
            for values in group
        ],
        ignore_conflicts=True,
    )
    return result
