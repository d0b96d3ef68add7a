"""A first load commits its rows, then builds the observations' indexes beside the derived
tables; what a killed load left recorded, the next load builds (``queries.pending_indexes``).

These tests commit (``transaction=True``): the beside build runs on a connection of its own,
which sees only committed rows.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection, transaction

from queries import bulk_indexes, pending_indexes
from queries.archive.loader import load_paths
from queries.models import (
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    ObservedPosition,
    PendingIndexes,
    Project,
    SpectralWindow,
)
from queries.synth import synthesize_archive
from tests.queries.test_bulk_load import schema
from tests.queries.test_loader import UNION

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="indexes are deferred on PostgreSQL only"
    ),
]
TABLES = [m._meta.db_table for m in (Observation, SpectralWindow, Project, MemberOUS)]
OBSERVATIONS = Observation._meta.db_table


@pytest.fixture(autouse=True)
def indexes_back_whatever_happens():
    """A test that fails half-way must not leave the next ones a table without its indexes
    (the flush between tests empties tables; it rebuilds no index)."""
    yield
    for record in PendingIndexes.objects.all():
        pending_indexes.finish(record)


def _lock_gone(record: PendingIndexes) -> None:
    """Wait (at most 5 s) until the server has let go of a closed connection's lock on
    ``record``: a backend ends a moment after its client hangs up."""
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objid = %s",
                [pending_indexes.LOCK_CLASS, record.pk],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)


@pytest.fixture
def defer_every_load(monkeypatch):
    monkeypatch.setattr(bulk_indexes, "DEFER_MIN_ROWS", 0)


@pytest.fixture
def builders(monkeypatch) -> list[tuple[str, list[str]]]:
    """(thread name, definitions) of every ``bulk_indexes.build`` call."""
    calls: list[tuple[str, list[str]]] = []
    build = bulk_indexes.build

    def recorded(definitions, **kwargs):
        calls.append((threading.current_thread().name, list(definitions)))
        return build(definitions, **kwargs)

    monkeypatch.setattr(bulk_indexes, "build", recorded)
    return calls


def _dropped_and_committed() -> PendingIndexes:
    """A load that dropped the observations' indexes and committed, as a killed one leaves."""
    with pending_indexes.loading("test load") as load:
        with transaction.atomic():
            load.drop([Observation, SpectralWindow])
    assert load.record is not None
    return load.record


def test_a_first_synthetic_load_builds_the_observation_indexes_on_a_connection_of_its_own(
    defer_every_load, builders
):
    before = schema(*TABLES)

    synthesize_archive(300, seed=3)

    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()
    beside = [d for name, defs in builders if name == "index-build-beside" for d in defs]
    assert any(" obs_sky_zone ON " in d for d in beside)
    assert all(d.startswith("CREATE INDEX ") for d in beside)  # keys on this connection
    observations = [d for d in beside if f".{OBSERVATIONS} USING " in d]
    defined = bulk_indexes.secondary_indexes(OBSERVATIONS)
    created = [d for _, d in defined if d.startswith("CREATE INDEX ")]
    assert sorted(observations) == sorted(created)
    # The derived tables were written meanwhile, from the committed rows.
    assert SpectralWindow.objects.exists()
    assert not Observation.objects.filter(project__isnull=True).exists()


def test_when_the_derived_work_fails_the_indexes_are_still_built_and_its_error_raised():
    before = schema(*TABLES)
    record = _dropped_and_committed()
    assert schema(*TABLES) != before

    def fails() -> None:
        raise RuntimeError("derivation broke")

    with pytest.raises(RuntimeError, match="derivation broke"):
        pending_indexes.build_beside(record, fails, table=OBSERVATIONS)

    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()


def test_indexes_a_killed_load_left_are_built_by_the_next_load():
    before = schema(*TABLES)
    record = _dropped_and_committed()
    pending_indexes.release(record)  # its connection is gone: so is its lock

    synthesize_archive(50, seed=9)  # builds them before it loads

    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()


def test_a_live_loads_record_is_left_to_it():
    before = schema(*TABLES)
    record = _dropped_and_committed()
    pending_indexes.release(record)
    settings = connection.get_connection_params()
    with psycopg.connect(**settings, autocommit=True) as live:  # the load still running
        live.execute("SELECT pg_advisory_lock(%s, %s)", [pending_indexes.LOCK_CLASS, record.pk])

        assert pending_indexes.build_abandoned() == 0
        assert PendingIndexes.objects.filter(pk=record.pk).exists()

    _lock_gone(record)
    assert pending_indexes.build_abandoned() == 1  # its connection closed: abandoned
    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()


def test_a_load_failing_after_the_drop_rolls_the_record_back_with_the_rows(
    defer_every_load, monkeypatch
):
    from queries import synth

    before = schema(*TABLES)
    copy = synth._copy

    def observations_fail(table, using):
        if table.model is Observation:
            raise RuntimeError("COPY broke")
        copy(table, using)

    monkeypatch.setattr(synth, "_copy", observations_fail)

    with pytest.raises(RuntimeError, match="COPY broke"):
        synthesize_archive(100, seed=1)

    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()
    assert not Observation.objects.exists()
    # Its lock went too: a later load's record is not mistaken for a live one.
    assert pending_indexes.build_abandoned() == 0
    monkeypatch.setattr(synth, "_copy", copy)
    synthesize_archive(100, seed=1)
    assert schema(*TABLES) == before


# --- load_archive's first load: all files load or none does, across the commit --------------

MIRROR = (Observation, Project, MemberOUS, GroupOUS, ExecutionBlock, ObservedPosition)


def _mirror_counts() -> list[int]:
    return [model.objects.count() for model in MIRROR]


def test_a_first_file_load_commits_then_derives_the_hierarchy_beside_the_index_builds(
    defer_every_load, builders
):
    before = schema(*TABLES)

    result = load_paths([UNION])

    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()
    assert any(name == "index-build-beside" for name, _ in builders)
    assert result.rows == Observation.objects.count() > 0
    assert not Observation.objects.filter(member_ous__isnull=True).exists()
    assert MemberOUS.objects.exclude(n_observations=0).exists()  # the hierarchy was derived


def test_a_first_file_load_whose_hierarchy_fails_leaves_an_empty_indexed_mirror(
    defer_every_load, monkeypatch
):
    from queries import hierarchy

    before = schema(*TABLES)

    def fails(codes) -> None:
        raise RuntimeError("the positions failed")

    monkeypatch.setattr(hierarchy, "refresh_positions", fails)

    with pytest.raises(RuntimeError, match="the positions failed"):
        load_paths([UNION])

    assert _mirror_counts() == [0] * len(MIRROR)
    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()


def test_a_first_file_load_killed_after_its_rows_committed_is_undone_by_the_next_load(
    defer_every_load, monkeypatch
):
    before = schema(*TABLES)

    def killed(record, work, **kwargs) -> None:
        pending_indexes.release(record)  # the process is gone, and its lock with it
        raise KeyboardInterrupt

    monkeypatch.setattr(pending_indexes, "build_beside", killed)
    with pytest.raises(KeyboardInterrupt):
        load_paths([UNION])
    assert Observation.objects.exists()  # committed, hierarchy not derived
    monkeypatch.undo()

    assert pending_indexes.build_abandoned() == 1

    assert _mirror_counts() == [0] * len(MIRROR)
    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()


def test_a_first_file_load_killed_after_its_hierarchy_committed_keeps_its_rows(
    defer_every_load, monkeypatch
):
    before = schema(*TABLES)

    def killed(record, **kwargs) -> None:
        pending_indexes.release(record)
        raise KeyboardInterrupt

    monkeypatch.setattr(pending_indexes, "finish", killed)
    with pytest.raises(KeyboardInterrupt):
        load_paths([UNION])
    monkeypatch.undo()
    loaded = _mirror_counts()

    assert pending_indexes.build_abandoned() == 1

    assert _mirror_counts() == loaded
    assert loaded[0] > 0 and loaded[2] > 0
    assert schema(*TABLES) == before
    assert not PendingIndexes.objects.exists()
