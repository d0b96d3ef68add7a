"""Large loads into the mirror: the same rows and the same indexes, however they were loaded.

A load at least as large as the table (and ``DEFER_MIN_ROWS``) drops the secondary indexes and
foreign keys and builds them once at the end (``queries.bulk_indexes``); the threshold is set to
0 here so that the small test loads take that path too.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import connection
from django.db.models import F

from queries import bulk_indexes
from queries.archive.formats import read_table
from queries.archive.loader import columns_from_table, load_paths, map_column, normalise_values
from queries.models import (
    ArchiveFile,
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    ObservedPosition,
    Project,
    SpectralWindow,
)
from queries.synth import synthesize_archive
from tests.queries.test_loader import UNION

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="indexes are deferred on PostgreSQL only"
)


def schema(*tables: str) -> set[tuple[str, str]]:
    """Every index (and whether CLUSTER uses it, and any index column's own statistics target)
    and foreign key of ``tables`` as PostgreSQL defines them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indrelid::regclass::text, pg_get_indexdef(indexrelid) || ' ' || indisclustered "
            "FROM pg_index WHERE indrelid::regclass::text = ANY(%s) "
            "UNION SELECT conrelid::regclass::text, conname || ' ' || pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) "
            "UNION SELECT i.indrelid::regclass::text, "
            "i.indexrelid::regclass::text || ' column ' || a.attnum || ' statistics ' "
            "|| a.attstattarget FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indexrelid "
            "WHERE a.attstattarget > 0 AND i.indrelid::regclass::text = ANY(%s)",
            [list(tables), list(tables), list(tables)],
        )
        return set(cursor.fetchall())


@pytest.fixture
def defer_every_load(monkeypatch):
    monkeypatch.setattr(bulk_indexes, "DEFER_MIN_ROWS", 0)


@postgresql_only
def test_a_large_synthetic_archive_ends_with_every_index_and_key_it_had(defer_every_load):
    tables = [m._meta.db_table for m in (Observation, ArchiveFile)]
    before = schema(*tables)

    synthesize_archive(300, seed=3)

    assert schema(*tables) == before
    assert any(
        definition.endswith(
            "obs_sky_zone ON public.queries_observation USING btree "
            "(floor((s_dec * (2)::double precision)), s_ra) INCLUDE (s_dec, s_x, s_y, s_z, "
            "s_fov, band_mask, member_ous_id, project_id, id, obs_id, frequency) true"
        )
        for _, definition in before
    )
    assert Observation.objects.count() == 300
    assert not Observation.objects.filter(project__isnull=True).exists()


@postgresql_only
def test_a_large_synthetic_archive_replaces_the_previous_one_in_one_transaction(
    defer_every_load,
):
    synthesize_archive(300, seed=3)
    tables = [m._meta.db_table for m in (Observation, ArchiveFile)]
    before = schema(*tables)

    # The delete's key checks are still queued when the indexes and keys are dropped.
    synthesize_archive(300, seed=4, replace=True)

    assert schema(*tables) == before
    assert Observation.objects.count() == 300


@postgresql_only
def test_a_large_file_load_ends_with_every_index_and_key_it_had(defer_every_load):
    table = Observation._meta.db_table
    before = schema(table)

    result = load_paths([UNION])

    assert (result.rows, result.created) == (417, 417)
    assert schema(table) == before
    assert Observation.objects.filter(member_ous__isnull=False).count() == 417


@postgresql_only
def _observations_updated() -> int:
    """Row updates of the observations this backend has counted and not yet reported: this
    transaction's, plus an earlier transaction's that PostgreSQL has not flushed yet (it
    reports at most once a second), so a test compares two readings, never one with 0."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd FROM pg_stat_xact_user_tables "
            "WHERE relid = 'queries_observation'::regclass"
        )
        return cursor.fetchone()[0]


def test_a_file_load_writes_its_rows_linked_so_the_hierarchy_rewrites_none(defer_every_load):
    before = _observations_updated()

    load_paths([UNION])

    assert _observations_updated() == before  # the load and its rebuild updated no row
    assert not Observation.objects.filter(member_ous__isnull=True).exists()
    assert not Observation.objects.exclude(project__code=F("proposal_id")).exists()
    assert not Observation.objects.exclude(member_ous__uid=F("member_ous_uid")).exists()


@postgresql_only
def test_an_index_column_keeps_its_statistics_target_through_a_deferred_load(defer_every_load):
    table = Observation._meta.db_table
    with connection.cursor() as cursor:  # as queries migration 0013 does for the projects'
        cursor.execute("ALTER INDEX obs_target_key_trgm ALTER COLUMN 1 SET STATISTICS 500")
    before = schema(table)
    assert "obs_target_key_trgm column 1 statistics 500" in {d for _, d in before}

    synthesize_archive(300, seed=3)

    assert schema(table) == before


@postgresql_only
def test_a_first_load_ends_with_every_index_and_key_of_the_tables_it_filled(defer_every_load):
    """Into an empty mirror the rows, their windows, projects and member OUSs are written
    without their tables' secondary indexes and keys: all are there again at the end."""
    models = (Observation, SpectralWindow, Project, MemberOUS, GroupOUS, ExecutionBlock)
    tables = [m._meta.db_table for m in models]
    before = schema(*tables)

    load_paths([UNION])

    assert all(m.objects.exists() for m in models)
    assert schema(*tables) == before


@postgresql_only
def test_reloading_into_a_full_mirror_keeps_its_indexes_in_place(defer_every_load):
    load_paths([UNION])
    table = Observation._meta.db_table
    before = schema(table)

    again = load_paths([UNION])

    assert (again.created, again.updated) == (0, 417)
    assert schema(table) == before


@postgresql_only
@pytest.mark.parametrize("windows", ["written with the rows", "rebuilt after the hierarchy"])
def test_a_first_load_failing_in_its_final_step_leaves_the_mirror_as_it_was(
    defer_every_load, monkeypatch, windows
):
    """The load and its final step are one transaction: a failure after the rows (and, by the
    fast path, their windows) are in and the hierarchy's own tables have been rewritten
    without their indexes (the windows' step comes last) leaves no row, no project, no window,
    and every index and key where it was."""
    from queries import hierarchy
    from queries.archive import loader

    if windows == "rebuilt after the hierarchy":
        monkeypatch.setattr(loader, "_streams", lambda table: False)  # the exact path
    models = (
        Observation,
        Project,
        MemberOUS,
        GroupOUS,
        ExecutionBlock,
        ObservedPosition,
        SpectralWindow,
    )
    tables = [m._meta.db_table for m in models]
    before = schema(*tables)
    derived: list[int] = []

    def fail(*codes) -> None:
        derived.append(MemberOUS.objects.exclude(n_observations=0).count())
        raise RuntimeError("the windows failed")

    monkeypatch.setattr(hierarchy, "rebuild_windows", fail)
    monkeypatch.setattr(hierarchy, "note_widest_window", fail)

    with pytest.raises(RuntimeError):
        load_paths([UNION])

    assert derived and derived[0] > 0  # it failed after the hierarchy was derived
    assert schema(*tables) == before
    assert [m.objects.count() for m in models] == [0] * len(models)


@postgresql_only
def test_deferred_indexes_are_all_but_the_primary_key_and_unique_ones():
    names = {name for name, _ in bulk_indexes.secondary_indexes(Observation._meta.db_table)}

    assert "obs_sky_cover" in names and "obs_target_key_trgm" in names
    assert not any(name.endswith("_pkey") or name.endswith("obs_id_key") for name in names)


def test_a_table_normalised_a_column_at_a_time_gives_the_rows_normalised_one_by_one():
    table = read_table(UNION)
    mapping = {name: map_column(name) for name in table.columns}
    one_by_one = {}
    for number, raw in table.rows:
        values = normalise_values(
            raw, mapping=mapping, path=str(table.path), row_number=number, derive_id=False
        )
        one_by_one[values["obs_id"]] = values

    by_column = columns_from_table(table).dicts()

    assert len(by_column) == len(one_by_one) == 417
    assert {values["obs_id"]: values for values in by_column} == one_by_one


def test_rows_as_dicts_normalise_alike_whatever_the_order_of_their_keys():
    # A TAP answer: a dict per row, keys in the header's order (read a column at a time in
    # one pass); rows whose keys come in another order are read row by row, to the same.
    table = read_table(UNION)
    in_order = [(number, dict(raw)) for number, raw in table.rows]
    mixed = [
        (number, dict(reversed(raw.items())) if number % 2 else raw) for number, raw in in_order
    ]

    expected = columns_from_table(table).dicts()

    assert columns_from_table(replace(table, rows=in_order)).dicts() == expected
    assert columns_from_table(replace(table, rows=mixed)).dicts() == expected
