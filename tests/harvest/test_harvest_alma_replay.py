"""Harvesting ALMA's TAP (a local replay of real ALMA rows from ../shared/refdata)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

from archiveportal import jobs
from archiveportal.jobs import Phase
from harvest import bulk, services, upstream
from harvest.models import ChangeKind, HarvestRun, ObservationChange
from queries import bulk_indexes, hierarchy, spectral
from queries.hierarchy import rebuild_hierarchy
from queries.models import MemberOUS, Observation, Project, SpectralWindow
from tests.harvest.changes import journal
from tests.hierarchy_tables import scramble, snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def harvest(url: str, *args: str) -> HarvestRun:
    call_command("harvest_archive", "--archive-url", url, *args)
    return HarvestRun.objects.order_by("-created_at").first()


def mirror_indexes(table: str = "queries_observation") -> set[str]:
    """Each index of the mirror's table (or ``table``) and whether CLUSTER uses it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) || ' clustered: ' || indisclustered "
            "FROM pg_index WHERE indrelid = %s::regclass",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def foreign_keys(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


JOURNAL = ObservationChange._meta.db_table


def journal_during_first_page(url: str) -> tuple[set[str], set[str], HarvestRun]:
    """A harvest of ``url`` run to the end; the journal's indexes and keys as its first page
    saw them."""
    seen: dict[str, set[str]] = {}

    def look(run: HarvestRun, page: int) -> None:
        if page == 1:
            seen["indexes"], seen["keys"] = mirror_indexes(JOURNAL), foreign_keys(JOURNAL)

    run = jobs.claim(HarvestRun, str(services.start_run(archive_url=url).pk))
    services.execute(run, inside_page=look)
    jobs.stop_heartbeat(run.pk)
    return seen["indexes"], seen["keys"], run


def test_first_harvest_fills_the_mirror_with_every_row_and_its_hierarchy(alma_replay):
    indexes = mirror_indexes()

    run = harvest(alma_replay.url)

    assert run.phase == Phase.DONE and run.error_message == ""
    assert run.rows_seen == 417 and run.new_count == 417 and run.changed_count == 0
    assert Observation.objects.count() == 417
    assert ObservationChange.objects.filter(run=run, kind=ChangeKind.NEW).count() == 417
    codes = {r["proposal_id"] for r in alma_replay.obscore}
    assert set(Project.objects.values_list("code", flat=True)) == codes
    assert not Observation.objects.filter(member_ous__isnull=True).exists()
    mous = MemberOUS.objects.get(uid=alma_replay.obscore[0]["member_ous_uid"])
    assert mous.n_observations == Observation.objects.filter(member_ous=mous).count()
    # It paged (100 rows a page) in lastModified order, never asking for a row twice.
    pages = [q for q in alma_replay.queries if q.startswith("SELECT TOP")]
    assert len(pages) == 6
    # Loaded into an empty mirror without its secondary indexes, which are all back.
    assert run.deferred_indexes == [] and mirror_indexes() == indexes


def mirror_tuples() -> dict[str, tuple[str, str, str]]:
    """Each row's physical place, creating and locking transaction (PostgreSQL's system
    columns): a write or a row lock changes them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT obs_id, ctid::text, xmin::text, xmax::text FROM queries_observation")
        return {obs_id: rest for obs_id, *rest in cursor.fetchall()}


def row_versions() -> dict[str, tuple[str, str]]:
    """Each row's physical place and creating transaction: a rewrite of the row changes them."""
    return {obs_id: (ctid, xmin) for obs_id, (ctid, xmin, _) in mirror_tuples().items()}


def test_a_first_harvest_links_its_rows_as_it_writes_them_and_derives_the_full_hierarchy(
    alma_replay, monkeypatch
):
    as_paged: dict[str, tuple[str, str]] = {}
    finalize = services.finalize

    def after_the_pages(run: HarvestRun) -> None:
        as_paged.update(row_versions())
        finalize(run)

    monkeypatch.setattr(services, "finalize", after_the_pages)
    harvest(alma_replay.url)
    derived = snapshot()

    # Every observation row is the version its page wrote: the final step found the links
    # right and rewrote none.
    assert row_versions() == as_paged
    # And what it derived is what a rebuild from scratch derives.
    scramble()
    rebuild_hierarchy()
    assert snapshot() == derived
    assert not Project.objects.filter(title="").exists()  # no project left empty


def test_a_first_harvest_journals_every_row_once_after_its_pages_in_one_statement(
    alma_replay, monkeypatch
):
    journaled_by_the_pages: list[int] = []
    finalize = services.finalize

    def after_the_pages(run: HarvestRun) -> None:
        journaled_by_the_pages.append(ObservationChange.objects.filter(run=run).count())
        finalize(run)

    monkeypatch.setattr(services, "finalize", after_the_pages)
    run = harvest(alma_replay.url)

    # The pages wrote the rows only; their journal came after them, one new change per row,
    # with what the row says.
    assert journaled_by_the_pages == [0]
    assert run.new_count == 417
    changes = ObservationChange.objects.filter(run=run)
    assert sorted(
        changes.values_list("obs_id", "kind", "old_release_date", "new_release_date")
    ) == (
        sorted(
            (obs_id, ChangeKind.NEW, None, released)
            for obs_id, released in Observation.objects.values_list("obs_id", "obs_release_date")
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT xmin::text FROM harvest_observationchange WHERE run_id = %s",
            [run.pk],
        )
        assert len(cursor.fetchall()) == 1  # one statement, committed whole


def test_a_final_step_failing_after_a_first_loads_journal_ends_with_the_same_journal(
    alma_replay, monkeypatch
):
    write = bulk.journal_first_load

    def written_then_lost(run: HarvestRun) -> None:
        write(run)
        raise RuntimeError("connection to the server was lost")

    monkeypatch.setattr(bulk, "journal_first_load", written_then_lost)
    run = failed_harvest(alma_replay.url, "connection to the server was lost")
    # The journal committed; the run owes the rest of its final step.
    assert run.phase != Phase.DONE and run.deferred_indexes
    assert ObservationChange.objects.filter(run=run).count() == 417

    monkeypatch.setattr(bulk, "journal_first_load", write)
    resumed = resumed_harvest(run, alma_replay.url)
    assert resumed.pk == run.pk and resumed.phase == Phase.DONE
    retried = journal()

    ObservationChange.objects.all().delete()
    HarvestRun.objects.all().delete()
    Observation.objects.all().delete()
    Project.objects.all().delete()
    harvest(alma_replay.url)
    assert retried == journal() and len(retried) == 417


def test_a_second_harvest_changes_nothing(alma_replay):
    harvest(alma_replay.url)
    changes = ObservationChange.objects.count()

    again = harvest(alma_replay.url)
    full = harvest(alma_replay.url, "--full")

    assert (again.new_count, again.changed_count, again.released_count) == (0, 0, 0)
    assert (full.new_count, full.changed_count, full.removed_count) == (0, 0, 0)
    assert full.rows_seen == 417
    assert ObservationChange.objects.count() == changes


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's system columns")
def test_a_full_sweep_of_unchanged_rows_neither_writes_nor_locks_them(alma_replay):
    harvest(alma_replay.url)
    before = mirror_tuples()

    full = harvest(alma_replay.url, "--full")

    assert (full.rows_seen, full.new_count, full.changed_count) == (417, 0, 0)
    # A lock by the sweep would put its own transaction in xmax (the first harvest's spectral
    # windows left the key-share lock of their foreign-key checks there, long committed).
    assert mirror_tuples() == before


def test_an_upstream_row_changed_is_exactly_one_change(alma_replay):
    harvest(alma_replay.url)
    row = alma_replay.obscore[10]
    row["target_name"] = "Renamed upstream"
    row["lastModified"] = "2026-11-01T00:00:00.000"

    run = harvest(alma_replay.url)

    assert (run.new_count, run.changed_count) == (0, 1)
    change = ObservationChange.objects.get(run=run)
    assert (change.kind, change.obs_id) == (ChangeKind.CHANGED, row["obs_id"])
    assert Observation.objects.get(obs_id=row["obs_id"]).target_name == "Renamed upstream"


def test_upstream_down_fails_the_run_cleanly_with_its_reason(alma_replay):
    alma_replay.set_mode("unavailable")

    with pytest.raises(CommandError, match="could not be reached"):
        harvest(alma_replay.url)

    run = HarvestRun.objects.get()
    assert run.phase == Phase.FAILED
    assert (
        "could not be reached" in run.error_message
        and "Gave up after 1 retries" in run.error_message
    )
    # One try and one retry (after the jobs' backoff), then the run failed.
    assert len([q for q in alma_replay.queries if q.startswith("SELECT TOP")]) == 2
    assert Observation.objects.count() == 0


def test_a_first_harvest_that_meets_a_row_twice_keeps_its_later_version(alma_replay):
    # A row modified upstream while the harvest runs comes again in a later page: the first
    # load's straight COPY meets it in the mirror and that page takes the merge instead.
    first = min(alma_replay.obscore, key=lambda r: (r["lastModified"], r["obs_id"]))
    latest = max(datetime.fromisoformat(r["lastModified"]) for r in alma_replay.obscore)
    again = dict(first, obs_title="Retitled upstream during the harvest")
    again["lastModified"] = (latest + timedelta(days=1)).isoformat(timespec="milliseconds")
    alma_replay.obscore.append(again)
    indexes = mirror_indexes()

    run = harvest(alma_replay.url)

    assert (run.rows_seen, run.new_count, run.changed_count) == (418, 417, 1)
    assert Observation.objects.count() == 417
    assert Observation.objects.get(obs_id=first["obs_id"]).obs_title == again["obs_title"]
    kinds = ObservationChange.objects.filter(run=run, obs_id=first["obs_id"])
    assert set(kinds.values_list("kind", flat=True)) == {ChangeKind.NEW, ChangeKind.CHANGED}
    assert run.deferred_indexes == [] and mirror_indexes() == indexes


def test_a_first_harvest_into_an_empty_journal_defers_its_indexes_and_key_too(alma_replay):
    indexes, keys = mirror_indexes(JOURNAL), foreign_keys(JOURNAL)
    assert ObservationChange.objects.count() == 0 and keys

    during_indexes, during_keys, run = journal_during_first_page(alma_replay.url)

    # While the rows arrive the journal keeps its primary key and the unique change per run,
    # obs_id and kind (the merge's ON CONFLICT); the rest, and the key to the run, come back.
    assert during_keys == set()
    assert len(during_indexes) == 2 and all("UNIQUE" in d for d in during_indexes)
    assert mirror_indexes(JOURNAL) == indexes and foreign_keys(JOURNAL) == keys
    assert run.deferred_indexes == []
    assert ObservationChange.objects.filter(run=run, kind=ChangeKind.NEW).count() == 417


def test_a_first_harvest_keeps_the_indexes_of_a_journal_holding_older_runs(alma_replay):
    # The mirror was emptied after an earlier harvest whose journal stays.
    earlier = HarvestRun.objects.create(archive_url=alma_replay.url, phase=Phase.DONE)
    ObservationChange.objects.create(
        run=earlier,
        obs_id="uid://A001/X1/X1",
        member_ous_uid="",
        proposal_id="2011.0.00001.S",
        kind=ChangeKind.NEW,
    )
    indexes, keys = mirror_indexes(JOURNAL), foreign_keys(JOURNAL)

    during_indexes, during_keys, run = journal_during_first_page(alma_replay.url)

    assert (during_indexes, during_keys) == (indexes, keys)
    assert run.new_count == 417 and Observation.objects.count() == 417


def everything_derived() -> tuple:
    """The hierarchy, the windows and every index and key of the tables a first load defers."""
    windows = sorted(
        SpectralWindow.objects.values_list("observation__obs_id", "lo_ghz", "hi_ghz", "channel_hz")
    )
    tables = ("queries_observation", "queries_spectralwindow", JOURNAL)
    return (
        snapshot(),
        windows,
        [(mirror_indexes(t), foreign_keys(t)) for t in tables],
        sorted(Observation.objects.values_list("obs_id", "project__code", "member_ous__uid")),
        journal(),
    )


def test_a_first_harvest_indexes_its_rows_beside_the_final_transaction_to_the_same_mirror(
    alma_replay, monkeypatch
):
    observation_index = " ON public.queries_observation USING "
    built_in: dict[str, list[str]] = {}
    build = bulk_indexes.build

    def recorded(definitions, **kwargs):
        # What each thread had to build: the definitions of indexes not there yet.
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'i'")
            present = {name for (name,) in cursor.fetchall()}
        due = [d for d in definitions if d.startswith("CREATE") and d.split()[2] not in present]
        built_in.setdefault(threading.current_thread().name, []).extend(due)
        return build(definitions, **kwargs)

    monkeypatch.setattr(bulk_indexes, "build", recorded)
    before = everything_derived()[2]

    harvest(alma_replay.url)
    alongside = everything_derived()

    # The observation table's indexes were built on their own connection, in their own thread;
    # the windows' and the journal's in another, after it rebuilt the windows; the keys after
    # the final transaction, in the caller's (which built no index of these three tables).
    beside = built_in.pop("harvest-index-build")
    assert beside and all(observation_index in d for d in beside)
    windows_and_journal = built_in.pop("harvest-windows")
    assert {d.split(" ON ")[1].split()[0] for d in windows_and_journal} == {
        "public.queries_spectralwindow",
        f"public.{JOURNAL}",
    }
    after = [d for definitions in built_in.values() for d in definitions]
    assert not any(observation_index in d or "spectralwindow" in d or JOURNAL in d for d in after)
    assert alongside[2] == before and alongside[1]

    # The same harvest with everything built after the transaction (the journal written by
    # ``restore_indexes``) leaves the same mirror and journal.
    ObservationChange.objects.all().delete()
    HarvestRun.objects.all().delete()
    Observation.objects.all().delete()
    Project.objects.all().delete()
    monkeypatch.setattr(services, "build_alongside", lambda run: bulk.Alongside())
    harvest(alma_replay.url)
    assert everything_derived() == alongside


def windows_rebuilt_in(monkeypatch) -> list[str]:
    """The threads that rebuild the spectral windows from now on, in the order they do."""
    threads: list[str] = []
    rebuild = spectral.rebuild_windows

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return rebuild(*args, **kwargs)

    monkeypatch.setattr(spectral, "rebuild_windows", recorded)
    monkeypatch.setattr(hierarchy, "rebuild_windows", recorded)
    return threads


def failed_harvest(url: str, error: str) -> HarvestRun:
    """A harvest of ``url`` run by a worker until it fails with ``error``, as left after."""
    run = jobs.claim(HarvestRun, str(services.start_run(archive_url=url).pk))
    with pytest.raises(RuntimeError, match=error):
        services.execute(run)
    jobs.stop_heartbeat(run.pk)
    run.refresh_from_db()
    return run


def resumed_harvest(run: HarvestRun, url: str) -> HarvestRun:
    """``run`` taken up again once its lease has run out, as the next start would."""
    HarvestRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    return harvest(url)


def windows() -> list[tuple]:
    return sorted(
        SpectralWindow.objects.values_list("observation__obs_id", "lo_ghz", "hi_ghz", "channel_hz")
    )


def test_a_first_harvest_rebuilds_the_windows_beside_the_final_transaction_as_a_rebuild_does(
    alma_replay, monkeypatch
):
    threads = windows_rebuilt_in(monkeypatch)

    harvest(alma_replay.url)

    # Once, on a connection of its own, and not again in the final transaction.
    assert threads == ["harvest-windows"]
    beside = windows()
    assert beside
    spectral.rebuild_windows(None)
    assert windows() == beside


def test_a_first_full_sweep_rebuilds_the_windows_in_its_final_transaction(alma_replay, monkeypatch):
    # Its transaction deletes the rows the sweep did not see: windows rebuilt beside it
    # could outlive them.
    threads = windows_rebuilt_in(monkeypatch)

    run = harvest(alma_replay.url, "--full")

    assert run.phase == Phase.DONE and run.deferred_indexes == []
    assert threads == ["MainThread"] and windows()


def test_the_windows_failing_beside_the_final_step_fail_it_and_a_resumption_ends_it(
    alma_replay, monkeypatch
):
    threads = windows_rebuilt_in(monkeypatch)
    indexes = [(mirror_indexes(t), foreign_keys(t)) for t in ("queries_spectralwindow", JOURNAL)]
    recorded = spectral.rebuild_windows

    def failing(codes=None):
        recorded(codes)
        raise RuntimeError("connection to the server was lost")

    monkeypatch.setattr(spectral, "rebuild_windows", failing)

    run = failed_harvest(alma_replay.url, "connection to the server was lost")
    # The final transaction committed; the windows' and journal's indexes and keys are owed.
    assert run.phase != Phase.DONE and run.deferred_indexes
    assert MemberOUS.objects.filter(n_observations__gt=0).exists()

    monkeypatch.setattr(spectral, "rebuild_windows", recorded)
    resumed = resumed_harvest(run, alma_replay.url)

    assert resumed.pk == run.pk and resumed.phase == Phase.DONE
    assert threads == ["harvest-windows", "harvest-windows"]
    assert resumed.deferred_indexes == []
    assert [(mirror_indexes(t), foreign_keys(t)) for t in ("queries_spectralwindow", JOURNAL)] == (
        indexes
    )
    resumed_windows = windows()
    spectral.rebuild_windows(None)
    assert resumed_windows == windows() and resumed_windows


def test_an_index_build_failing_beside_the_final_step_fails_it_and_a_resumption_ends_it(
    alma_replay, monkeypatch
):
    build = bulk_indexes.build

    def failing_beside(definitions, **kwargs):
        if threading.current_thread().name == "harvest-index-build":
            raise RuntimeError("no space left on device")
        return build(definitions, **kwargs)

    monkeypatch.setattr(bulk_indexes, "build", failing_beside)
    indexes = mirror_indexes()

    run = failed_harvest(alma_replay.url, "no space left")
    # The final transaction committed; what the run owes is still on it.
    assert run.phase != Phase.DONE and run.deferred_indexes
    assert MemberOUS.objects.filter(n_observations__gt=0).exists()

    monkeypatch.setattr(bulk_indexes, "build", build)
    resumed = resumed_harvest(run, alma_replay.url)
    assert resumed.pk == run.pk and resumed.phase == Phase.DONE
    assert resumed.deferred_indexes == [] and mirror_indexes() == indexes
    assert Observation.objects.count() == 417


def test_a_first_load_page_rolled_back_leaves_no_ids_for_later_pages(alma_replay):
    # Page 2 meets page 1's row again: its straight COPY rolls back (with the project and
    # member OUS it had just created) and it takes the merge. Page 3 names that project
    # again: it must be created again, not linked to by an id that was rolled back.
    client = upstream.client_for(alma_replay.url)
    rows = upstream.fetch_page(client, after=None, since=None, size=1000)
    by_project: dict[str, set[str]] = {}
    for row in rows:
        by_project.setdefault(row["proposal_id"], set()).add(row["member_ous_uid"])
    code = next(c for c, uids in by_project.items() if len(uids) >= 2)
    first_uid, second_uid = sorted(by_project[code])[:2]
    others = [r for r in rows if r["proposal_id"] != code][:5]
    page_two = [r for r in rows if r["member_ous_uid"] == first_uid] + [others[0]]
    page_three = [r for r in rows if r["member_ous_uid"] == second_uid]
    start = datetime(2030, 1, 1)
    pages = []
    for page in (others, page_two, page_three):
        pages.append([dict(r) for r in page])
    for n, row in enumerate(row for page in pages for row in page):
        row["lastModified"] = (start + timedelta(seconds=n)).isoformat(timespec="milliseconds")
    run = HarvestRun.objects.create(archive_url=alma_replay.url)
    bulk.defer_indexes_if_empty(run)
    queued = iter([*pages, []])

    try:
        services.run_pages(run, lambda after: next(queued))
        services.finalize(run)
    finally:
        bulk.restore_indexes(run)  # whatever failed: the next tests' mirror has its indexes

    run.refresh_from_db()
    # The row met again was sent with a later lastModified: one change.
    assert (run.new_count, run.changed_count) == (sum(map(len, pages)) - 1, 1)
    project = Project.objects.get(code=code)
    assert set(
        MemberOUS.objects.filter(uid__in=[first_uid, second_uid]).values_list(
            "project_id", flat=True
        )
    ) == {project.pk}
    assert not Observation.objects.exclude(project__code=F("proposal_id")).exists()
