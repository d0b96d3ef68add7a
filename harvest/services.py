"""Running a harvest: start or resume a run, page the upstream, merge, then the final step.

A run moves its cursor only in the transaction that applied the page it names, so whatever
kills the process (SIGKILL, an upstream outage, a bad row) the mirror holds whole pages and
the cursor says exactly which: resuming fetches the pages after it and ends with the mirror an
uninterrupted run would have left. The final step (removals of a full sweep, hierarchy and
per-MOUS aggregates of the touched projects, release changes) is one transaction and
idempotent, so it too can be interrupted and run again. Until it commits the portal keeps
serving the hierarchy it had, and access keeps following it: the member OUS release dates the
single decider reads change in that transaction, everywhere at once.

One harvest at a time: a run that is running with a live lease (renewed by the job heartbeat)
blocks every other start, and on PostgreSQL starts are serialised by an advisory lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from archiveportal import jobs
from archiveportal.jobs import Phase
from archiveportal.read_ahead import read_ahead
from harvest.bulk import build_alongside, defer_indexes_if_empty, restore_indexes
from harvest.merge import PreparedPage, apply_page, prepare
from harvest.models import ChangeKind, HarvestMode, HarvestRun, ObservationChange, SweptObservation
from harvest.signals import harvest_finished
from harvest.upstream import Cursor, client_for, count_query, fetch_page, row_position
from queries import pending_indexes
from queries.archive.formats import RawTable
from queries.archive.loader import Columns, columns_from_table
from queries.errors import ArchiveError, ArchiveRejected, LoadError
from queries.filters import forget_max_fov
from queries.hierarchy import rebuild_hierarchy
from queries.models import (
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    Project,
    ProjectSummary,
    SpectralWindow,
    release_passed,
)
from queries.staging import collection_paused

log = logging.getLogger(__name__)

_START_LOCK = 0x48415256  # "HARV": pg_advisory_xact_lock key serialising starts


class HarvestBusy(Exception):
    """Another harvest holds the lock."""


class HarvestRefused(Exception):
    """The run cannot be applied as it stands (the message says why and what to do)."""


@dataclass
class Progress:
    """What a progress display is told after every page."""

    rows_seen: int
    total: int | None
    new: int
    changed: int


def start_run(
    *,
    archive_url: str,
    mode: str = HarvestMode.INCREMENTAL,
    since: datetime | None = None,
    dry_run: bool = False,
) -> HarvestRun:
    """The queued run to execute: the unfinished run with these parameters, or a new one.

    An incremental run with no ``since`` starts where the last successful run of the same
    archive ended (its cursor), so a nightly run fetches only what changed since.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_START_LOCK])
        busy = (
            HarvestRun.objects.select_for_update()
            .filter(phase=Phase.RUNNING, lease_expires_at__gt=timezone.now())
            .first()
        )
        if busy is not None:
            raise HarvestBusy(
                f"A harvest is already running (run {busy.pk} of {busy.archive_url}, started "
                f"{busy.started_at:%Y-%m-%d %H:%M} UTC); one runs at a time."
            )
        latest = (
            HarvestRun.objects.select_for_update()
            .filter(archive_url=archive_url, mode=mode, dry_run=dry_run)
            .order_by("-created_at")
            .first()
        )
        if latest is not None and latest.phase != Phase.DONE and since in (None, latest.since):
            # Killed, failed or handed back: continue it from its cursor.
            HarvestRun.objects.filter(pk=latest.pk).update(
                phase=Phase.QUEUED, lease_expires_at=None, finished_at=None
            )
            latest.refresh_from_db()
            return latest
        if since is None and mode == HarvestMode.INCREMENTAL:
            since = last_harvested(archive_url)
        return HarvestRun.objects.create(
            archive_url=archive_url, mode=mode, since=since, dry_run=dry_run
        )


def last_harvested(archive_url: str) -> datetime | None:
    """Where the last successful run of ``archive_url`` ended upstream (None: never ran)."""
    done = (
        HarvestRun.objects.filter(archive_url=archive_url, phase=Phase.DONE, dry_run=False)
        .order_by("-finished_at")
        .first()
    )
    if done is None:
        return None
    return done.cursor_last_modified or done.since


def count_upstream(run: HarvestRun) -> int | None:
    """How many rows the run will read, for the progress bar; None when the upstream cannot
    say (a count is a nicety, never a reason to fail)."""
    try:
        rows = client_for(run.archive_url).query_obscore(
            count_query(after=_cursor(run), since=run.since), max_rows=1
        )
        return int(next(iter(rows[0].values())))
    except (ArchiveError, LookupError, TypeError, ValueError):
        return None


def _cursor(run: HarvestRun) -> Cursor | None:
    if run.cursor_last_modified is None:
        return None
    return Cursor(run.cursor_last_modified, run.cursor_obs_id)


def normalise(archive_url: str, rows: list[dict[str, object]], first_row: int) -> Columns:
    """Upstream rows through the loader's normalisation; a bad value raises its LoadError,
    naming the upstream, the row's number in this run, its obs_id and the column."""
    columns = sorted(set().union(*rows))
    table = RawTable(
        Path(archive_url),
        "obscore",
        columns,
        {},
        [(first_row + i, row) for i, row in enumerate(rows)],
    )
    try:
        return columns_from_table(table)
    except LoadError as exc:
        # The loader names a file; here the "file" is the upstream's table.
        where = f"{archive_url} ivoa.obscore (obs_id {rows[exc.row - first_row].get('obs_id')})"
        raise LoadError(where, exc.row, exc.column, exc.message) from None


@dataclass
class Page:
    """A fetched page, normalised and prepared for the merge, and where it ends upstream."""

    number: int
    rows: int
    values: PreparedPage
    position: Cursor | None

    @property
    def last(self) -> bool:
        """An empty page, or one ending in a row without lastModified, ends the paging."""
        return not self.rows or self.position is None or self.position.last_modified is None


Fetch = Callable[[Cursor | None], list[dict[str, object]]]


def fetched_pages(run: HarvestRun, fetch: Fetch) -> Iterator[Page]:
    """Pages after the run's cursor (``fetch(after)`` gets one), each checked and normalised."""
    after, first_row, number = _cursor(run), run.rows_seen + 1, 0
    while True:
        rows = fetch(after)
        _check_progress(after, rows)
        number += 1
        position = row_position(rows[-1]) if rows else None
        with collection_paused():
            values = normalise(run.archive_url, rows, first_row) if rows else Columns({}, 0)
            page = Page(number, len(rows), prepare(values), position)
        yield page
        if page.last:
            return
        after, first_row = position, first_row + len(rows)


def run_pages(
    run: HarvestRun,
    fetch: Fetch,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    inside_page: Callable[[HarvestRun, int], None] | None = None,
    total: int | None = None,
) -> None:
    """Apply every page ``fetch`` yields after the run's cursor, each in its own transaction."""
    for page in read_ahead(fetched_pages(run, fetch), name="harvest-read-ahead"):
        apply_fetched(run, page, inside_page=inside_page)
        if on_progress is not None:
            on_progress(Progress(run.rows_seen, total, run.new_count, run.changed_count))


def harvest_pages(
    run: HarvestRun,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    inside_page: Callable[[HarvestRun, int], None] | None = None,
) -> None:
    """Fetch and apply pages after the run's cursor until the upstream has no more.

    ``inside_page(run, page_number)`` is called inside each page's transaction after the merge
    (a test raising there kills the run with that page rolled back).
    """
    if run.chunks_done:
        return
    defer_indexes_if_empty(run)
    client = client_for(run.archive_url)
    size = settings.HARVEST_PAGE_ROWS
    total = count_upstream(run) if on_progress else None
    if total is not None:
        total += run.rows_seen

    def fetch(after: Cursor | None) -> list[dict[str, object]]:
        return fetch_page(client, after=after, since=run.since, size=size)

    run_pages(run, fetch, on_progress=on_progress, inside_page=inside_page, total=total)


def apply_fetched(
    run: HarvestRun, page: Page, *, inside_page: Callable[[HarvestRun, int], None] | None = None
) -> None:
    """One page merged, counted and the cursor moved past it, in one transaction."""
    with transaction.atomic():
        result = apply_page(run, page.values)
        update = {
            "rows_seen": F("rows_seen") + page.rows,
            "new_count": F("new_count") + result.new,
            "changed_count": F("changed_count") + result.changed,
            "chunks_done": page.last,
            "updated_at": timezone.now(),
        }
        if page.position is not None and page.position.last_modified is not None:
            update["cursor_last_modified"] = page.position.last_modified
            update["cursor_obs_id"] = page.position.obs_id
        HarvestRun.objects.filter(pk=run.pk).update(**update)
        run.refresh_from_db()
        if inside_page is not None:
            inside_page(run, page.number)


def _check_progress(after: Cursor | None, rows: list[dict[str, object]]) -> None:
    """Refuse a page that does not start after the cursor: the upstream compares lastModified
    more finely than it sends it (stored in microseconds, written in milliseconds), so paging
    would fetch the same rows for ever."""
    if after is None or after.last_modified is None or not rows:
        return
    first = row_position(rows[0])
    if first.last_modified is not None and (first.last_modified, first.obs_id) <= (
        after.last_modified,
        after.obs_id,
    ):
        raise HarvestRefused(
            f"The archive answered rows at or before the harvest's cursor (lastModified "
            f"{after.last_modified.isoformat()}, obs_id {after.obs_id}): it sends lastModified "
            "less precisely than it compares it, so paging cannot advance. Nothing of this page "
            "was applied."
        )


def finalize(run: HarvestRun) -> None:
    """Removals (full sweep), hierarchy and aggregates of touched projects, release changes;
    one transaction, idempotent. Then the indexes a first load deferred, and the planner
    statistics.

    A first load's observation indexes, and (unless it is a full sweep) its spectral windows,
    their indexes, the journal of its pages and the journal's indexes, are built beside that
    transaction, on connections of their own (``harvest.bulk.build_alongside``): a first load
    writes its rows already linked (``harvest.merge``), so the transaction only reads the
    table, and it reads no journal. Should a row still need linking (one that took the
    merge), the update waits for the index being built and the rest wait for the
    transaction: slower, the same tables.
    """
    alongside = build_alongside(run)
    try:
        with transaction.atomic():
            removed = _sweep_removed(run) if run.mode == HarvestMode.FULL else 0
            if not run.dry_run:
                _rebuild_and_record_releases(run, windows=not alongside.windows)
            counts = {
                "removed_count": removed,
                "released_count": ObservationChange.objects.filter(
                    run=run, kind=ChangeKind.RELEASED
                ).count(),
            }
            HarvestRun.objects.filter(pk=run.pk).update(**counts)
    finally:
        failed = alongside.wait()  # waited for whatever happened; its error if the step went well
    if failed is not None:
        raise failed
    restore_indexes(run, journaled=alongside.journaled)
    if not run.dry_run:
        forget_max_fov()
        analyze(skip=alongside.analyzed)
    run.refresh_from_db()


def _sweep_removed(run: HarvestRun) -> int:
    """Rows the full sweep did not see upstream: recorded and deleted (counted in a dry run).

    A sweep that would remove more than ``HARVEST_MAX_REMOVED_FRACTION`` of the mirror is
    refused: an upstream answering with a near-empty table must not empty the portal.
    """
    gone = Observation.objects.exclude(
        obs_id__in=SweptObservation.objects.filter(run=run).values("obs_id")
    )
    if not run.dry_run:
        # A resumed final step: what the first attempt removed is in the journal already.
        already = ObservationChange.objects.filter(run=run, kind=ChangeKind.REMOVED).count()
    else:
        already = 0
    count = gone.count()
    total = Observation.objects.count()
    if count and count > settings.HARVEST_MAX_REMOVED_FRACTION * total:
        raise HarvestRefused(
            f"The full sweep saw {run.rows_seen} rows upstream but would remove {count} of the "
            f"mirror's {total} (more than {settings.HARVEST_MAX_REMOVED_FRACTION:.0%}); nothing "
            "was removed. Check the archive URL, or raise HARVEST_MAX_REMOVED_FRACTION."
        )
    if run.dry_run or not count:
        return count + already
    ObservationChange.objects.bulk_create(
        [
            ObservationChange(
                run=run,
                obs_id=row["obs_id"],
                member_ous_uid=row["member_ous_uid"],
                proposal_id=row["proposal_id"],
                kind=ChangeKind.REMOVED,
                old_release_date=row["obs_release_date"],
            )
            for row in gone.values("obs_id", "member_ous_uid", "proposal_id", "obs_release_date")
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )
    gone.delete()
    return count + already


def _rebuild_and_record_releases(run: HarvestRun, *, windows: bool = True) -> None:
    """Rebuild what the run touched and journal member OUSs whose release moved or came
    (``windows``: the spectral windows too, unless they are rebuilt beside).

    Release kinds are decided per member OUS with the single release rule, on the release date
    the hierarchy derives (the one the access decider reads), before and after the rebuild, and
    recorded on each observation row of that member OUS.
    """
    if run.deferred_indexes:
        # A first load into an empty mirror: every row is journaled as new (beside this
        # transaction or after it: ``harvest.bulk``), and its member OUSs were created empty
        # with the rows (harvest.merge), so none had a release date a watcher could have seen
        # move. Every project in the mirror came with the run (or
        # from a live search meanwhile, derived by the same rules), so the whole hierarchy is
        # derived at once: no list of touched projects read from the journal (~3 s for 1M
        # rows) and no filter on it in every statement.
        rebuild_hierarchy(None, windows="rebuild" if windows else "caller")
        return
    touched = ObservationChange.objects.filter(run=run).exclude(
        kind__in=[ChangeKind.RELEASED, ChangeKind.RELEASE_MOVED]
    )
    projects = set(touched.values_list("proposal_id", flat=True).distinct())
    uids = set(touched.values_list("member_ous_uid", flat=True).distinct())
    before = dict(MemberOUS.objects.filter(uid__in=uids).values_list("uid", "release_date"))
    rebuild_hierarchy(projects)
    # A member OUS whose every row was removed keeps its row (files, requests point at it) but
    # no longer claims observations.
    emptied = set(before) - set(
        Observation.objects.filter(member_ous_uid__in=uids).values_list("member_ous_uid", flat=True)
    )
    MemberOUS.objects.filter(uid__in=emptied).update(n_observations=0, n_sources=0)
    after = dict(MemberOUS.objects.filter(uid__in=before).values_list("uid", "release_date"))
    now = timezone.now()
    changes = []
    for uid, old in before.items():
        new = after.get(uid)
        if new == old or uid in emptied:
            continue
        kind = (
            ChangeKind.RELEASED
            if release_passed(new, now) and not release_passed(old, now)
            else ChangeKind.RELEASE_MOVED
        )
        for obs_id, proposal_id in Observation.objects.filter(member_ous_uid=uid).values_list(
            "obs_id", "proposal_id"
        ):
            changes.append(
                ObservationChange(
                    run=run,
                    obs_id=obs_id,
                    member_ous_uid=uid,
                    proposal_id=proposal_id,
                    kind=kind,
                    old_release_date=old,
                    new_release_date=new,
                )
            )
    ObservationChange.objects.bulk_create(changes, ignore_conflicts=True, batch_size=5000)


def analyze(*, skip: Collection[str] = ()) -> None:
    """Fresh planner statistics for the tables a harvest rewrote (PostgreSQL only), but
    those in ``skip`` (analyzed beside the final step already)."""
    if connection.vendor != "postgresql":
        return
    tables = [
        model._meta.db_table
        for model in (
            Observation,
            MemberOUS,
            Project,
            GroupOUS,
            ExecutionBlock,
            ProjectSummary,
            SpectralWindow,
        )
    ]
    with connection.cursor() as cursor:
        for table in tables:
            if table in skip:
                continue
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def execute(
    run: HarvestRun,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    inside_page: Callable[[HarvestRun, int], None] | None = None,
) -> HarvestRun:
    """Run a claimed ``run`` to the end and mark it done; errors propagate to the caller (the
    task retries the transient ones, the command reports them). First, what a bulk load
    killed after its commit left (``queries.pending_indexes``): the nightly harvest is the bulk
    load that surely comes next."""
    if not run.dry_run:
        pending_indexes.build_abandoned()
    harvest_pages(run, on_progress=on_progress, inside_page=inside_page)
    finalize(run)
    # The sweep's list goes with the phase change: a final step run again before it (killed
    # in between) must still know what the sweep saw, or it would remove the whole mirror.
    jobs.finish(
        run,
        publish=lambda current: SweptObservation.objects.filter(run=current).delete(),
        error_message="",
    )
    if not run.dry_run:
        harvest_finished.send(sender=HarvestRun, run=run)
    log.info(
        "harvest %s of %s done: %d rows seen, %d new, %d changed, %d released, %d removed",
        run.pk,
        run.archive_url,
        run.rows_seen,
        run.new_count,
        run.changed_count,
        run.released_count,
        run.removed_count,
    )
    return run


def note_error(run: HarvestRun, message: str) -> None:
    """Show a transient error on the run while it waits for its retry."""
    HarvestRun.objects.filter(pk=run.pk).update(error_message=message[:2000])


# Errors retrying cannot mend: the run fails at once with their message.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ArchiveRejected, LoadError, HarvestRefused)
