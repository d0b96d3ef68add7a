"""Applying one page of upstream rows to the mirror, and recording what it changed.

On PostgreSQL a page is COPYed into a temporary staging table and merged with one
``INSERT ... ON CONFLICT (obs_id) DO UPDATE ... WHERE <row differs>`` (``queries.staging``, which
also serves ``load_archive``) whose ``RETURNING`` feeds the ``ObservationChange`` rows in the
same statement: an unchanged row is neither written nor recorded (nor even locked), so
harvesting the same data twice changes nothing. The statement's snapshot still holds the old
row, which is where ``old_release_date`` comes from. Elsewhere (SQLite, the
embedded mode) the same result comes from a comparison in Python and the loader's bulk upsert.

A first load (the run deferred the mirror's indexes: the mirror was empty, ``harvest.bulk``)
COPYs its pages straight into the mirror and journals none of their rows page by page: every
row of an empty mirror is new, so its journal is written once, set-based, from the committed
rows (``journal_first_load``), when the pages are done (``harvest.bulk``). No reader misses
rows journaled late: watches (and so digests) read a run's changes only once it has ended
(``watches.services.readable_end``: nothing from the first change of a run still running
on), and the calendar reads release moves only, which a first load does not write.

The caller runs ``apply_page`` in the transaction that also moves the run's cursor, so a page
is applied entirely together with its cursor, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from harvest.models import (
    ChangeKind,
    HarvestMode,
    HarvestRun,
    ObservationChange,
    SweptObservation,
)
from queries import hierarchy_sql, staging
from queries.archive.loader import Columns, upsert
from queries.models import Observation

# source_file names where a row came from, not what it says: a row harvested from a new URL
# with the same values is unchanged.
COMPARED = [f for f in staging.FIELDS if f.name != "source_file"]
TABLE = staging.TABLE


@dataclass
class PageResult:
    new: int = 0
    changed: int = 0


@dataclass
class PreparedPage:
    """A normalised page ready to merge: tuples to COPY on PostgreSQL, dicts elsewhere."""

    count: int
    rows: list


def prepare(observations: Columns) -> PreparedPage:
    """Everything about a page that needs no database (run ahead, while another merges)."""
    if connection.vendor == "postgresql":
        return PreparedPage(len(observations), staging.prepare(observations))
    return PreparedPage(len(observations), observations.dicts() if len(observations) else [])


def apply_page(run: HarvestRun, page: PreparedPage) -> PageResult:
    """Merge a prepared page (normalised rows, unique obs_id) into the mirror."""
    if not page.count:
        return PageResult()
    if connection.vendor == "postgresql":
        return _apply_postgresql(run, page.rows)
    return _apply_portable(run, page.rows)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


_CODE = staging.NAMES.index("proposal_id")
_MOUS = staging.NAMES.index("member_ous_uid")
_JOURNAL_COLUMNS = [
    "run_id",
    "obs_id",
    "member_ous_uid",
    "proposal_id",
    "kind",
    "old_release_date",
    "new_release_date",
    "created_at",
]


# The ids of the projects and member OUSs a run's committed pages linked their rows to, so
# that later pages ask only for the codes and uids they did not name: (run id, by code, by
# uid), one run's at a time.
_LINKED: tuple[object, dict[str, int], dict[str, int]] = (None, {}, {})


def _linked_ids(run: HarvestRun) -> tuple[dict[str, int], dict[str, int]]:
    global _LINKED
    if _LINKED[0] != run.pk:
        _LINKED = (run.pk, {}, {})
    return _LINKED[1], _LINKED[2]


def _remember(
    known: tuple[dict[str, int], dict[str, int]],
    projects: dict[str, int],
    mouses: dict[str, int],
) -> None:
    known[0].update(projects)
    known[1].update(mouses)


def loads_first(run: HarvestRun) -> bool:
    """Whether ``run``'s pages take the first load's straight COPY (``_insert_first_load``),
    whose rows the run journals afterwards (``journal_first_load``): it deferred the mirror's
    indexes (the mirror was empty) and is neither a full sweep nor a dry run."""
    return bool(run.deferred_indexes) and run.mode != HarvestMode.FULL and not run.dry_run


def _insert_first_load(run: HarvestRun, rows: list[tuple]) -> PageResult | None:
    """A page of a first load (``loads_first``) COPYed straight into the mirror, linked to its
    projects and member OUSs, every row new: no staging table, no comparison, and no journal
    row (``journal_first_load`` writes them all at the end). None, with nothing written, when
    a row exists already (a row sent twice during the run, or written meanwhile by a live
    search): the page then takes the merge, which journals its own rows."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Inserted already linked to their project and member OUS (created empty where
            # new), so the final step's hierarchy rewrites none of a first load's rows.
            known = _linked_ids(run)
            projects, mouses = hierarchy_sql.ids_for(
                {(row[_CODE], row[_MOUS]) for row in rows}, known
            )
            # Known to later pages once this one has committed (a rolled back page's
            # projects and member OUSs are gone with it).
            transaction.on_commit(lambda: _remember(known, projects, mouses))
            linked = ((*row, projects[row[_CODE]], mouses.get(row[_MOUS])) for row in rows)
            columns = [f.column for f in staging.FIELDS] + staging.LINKS
            staging.copy_binary(cursor, TABLE, columns, linked)
    except IntegrityError:
        return None
    return PageResult(new=len(rows))


# In obs_id order the journal's unique key (run, obs_id, kind) takes each row at its right
# end instead of a descent to a random leaf: 1M rows cost the server 6.2-6.9 s of CPU sorted
# in memory against 7.7-9.2 s in heap order (a million rows' sort spilled 100MB to disk with
# the server's default work_mem).
_JOURNAL_SORT_MEMORY = "256MB"


def journal_first_load(run: HarvestRun) -> None:
    """The journal of a first load's pages (``loads_first``), from the committed mirror: one
    NEW row per observation the run has not journaled as new already, with the columns a
    merged new row gets (no old release date; the new one is the row's).

    Every row of the mirror is one: it was empty when the run began. The run's pages that took
    the merge journaled their own rows (NEW, or CHANGED for a row met again: that one keeps
    both, as when each page journaled its rows); what the run journaled as new already (its
    unique key: run, obs_id, kind) is left out. So it can run again (a resumed or retried
    final step, a failed run's ``restore_indexes``) and leaves the same journal: one
    statement, committed whole or not at all. Its counts are the pages' (``PageResult``),
    not this.
    """
    journal = ObservationChange._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # For this statement only (a caller's transaction, when it runs in one, goes on).
        cursor.execute(
            "SELECT current_setting('work_mem'), set_config('work_mem', %s, true)",
            [_JOURNAL_SORT_MEMORY],
        )
        (memory, _) = cursor.fetchone()
        cursor.execute(
            f"""
            INSERT INTO {journal} ({", ".join(_JOURNAL_COLUMNS)})
            SELECT %s, o.obs_id, o.member_ous_uid, o.proposal_id, %s, NULL,
                   o.obs_release_date, now()
            FROM {TABLE} o
            WHERE NOT EXISTS (
                SELECT 1 FROM {journal} c
                WHERE c.run_id = %s AND c.obs_id = o.obs_id AND c.kind = %s
            )
            ORDER BY o.obs_id
            """,
            [run.pk, ChangeKind.NEW.value, run.pk, ChangeKind.NEW.value],
        )
        cursor.execute("SELECT set_config('work_mem', %s, true)", [memory])


def _apply_postgresql(run: HarvestRun, rows: list[tuple]) -> PageResult:
    if loads_first(run):
        result = _insert_first_load(run, rows)
        if result is not None:
            return result
    staging.stage(rows)
    stage = staging.STAGE
    changes = ObservationChange._meta.db_table
    with connection.cursor() as cursor:
        if run.mode == "full":
            # Even a dry run remembers what it saw, to report what a real sweep would remove.
            cursor.execute(
                f"INSERT INTO {SweptObservation._meta.db_table} (run_id, obs_id) "
                f"SELECT %s, obs_id FROM {stage} ON CONFLICT DO NOTHING",
                [run.pk],
            )
        if run.dry_run:
            stage_values = ", ".join(staging.staged(f) for f in COMPARED)
            mirror_values = ", ".join(f"o.{_q(f.column)}" for f in COMPARED)
            cursor.execute(
                f"SELECT count(*) FILTER (WHERE o.id IS NULL), count(*) FILTER (WHERE o.id IS NOT "
                f"NULL AND ({mirror_values}) IS DISTINCT FROM ({stage_values})) "
                f"FROM {stage} s LEFT JOIN {TABLE} o ON o.obs_id = s.obs_id"
            )
            new_count, changed_count = cursor.fetchone()
            return PageResult(new=new_count, changed=changed_count)
        merge = staging.merge_sql(
            returning="obs_id, member_ous_uid, proposal_id, obs_release_date, "
            "(xmax = 0) AS inserted",
            unless_same=COMPARED,
        )
        cursor.execute(
            f"""
            WITH merged AS ({merge}), recorded AS (
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
    staging.drop_stage()
    return PageResult(new=new_count, changed=changed_count)


def _apply_portable(run: HarvestRun, observations: list[dict[str, object]]) -> PageResult:
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
