"""The hierarchy derived on PostgreSQL by set-based SQL is the one the Python loop derives.

``queries.hierarchy_sql`` (PostgreSQL) and ``queries.hierarchy.rebuild_in_python`` (SQLite, the
embedded mode) state the same rules twice, so they are held equal here, table for table, on the
sample archive plus rows written to hit each rule's corner: a member OUS spanning two projects,
a group moving to another project, a block moving to another member OUS, mixed rights, a
missing release date, sources needing code-point order, exposures whose float sum depends on
the order of the blocks, an observatory standing in as creator, a row without member OUS.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from queries import bulk_indexes, hierarchy, hierarchy_sql
from queries.models import (
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    Project,
)
from tests.hierarchy_tables import scramble, snapshot

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="compares with PostgreSQL's"),
]

P1, P2 = "2099.1.00001.S", "2099.1.00002.S"


def _row(obs_id: str, code: str, **values) -> Observation:
    values.setdefault("member_ous_uid", "uid://A001/Xt/X1")
    return Observation(obs_id=obs_id, proposal_id=code, **values)


CORNERS = [
    # Member OUS X1: first row names no group, no PI, the observatory as creator, a TP array.
    _row(
        "t.a",
        P1,
        asdm_uid="uid://A002/Xt/X1",
        t_exptime=10.1,
        data_rights="Public",
        obs_release_date=datetime(2030, 1, 1, tzinfo=UTC),
        obs_creator_name=" ALMA ",
        antenna_arrays="A1:PM01",
        target_name="Zeta",
        band_mask=8,
        t_min=59000.5,
        schedblock_name="first",
    ),
    # Same block again (its last row's exposure counts), proprietary, a title, a mixed array.
    _row(
        "t.b",
        P1,
        group_ous_uid="uid://A001/Xt/G1",
        asdm_uid="uid://A002/Xt/X1",
        t_exptime=20.2,
        data_rights="Proprietary",
        obs_release_date=datetime(2020, 1, 1, tzinfo=UTC),
        obs_title="Title B",
        obs_creator_name="  Jane Doe\t",
        antenna_arrays="A1:DA41 A2:CM01",
        target_name="\u00c6r\u00f8",
        band_mask=64,
        t_min=59000.1,
        pi_userid="jdoe",
        schedblock_name="second",
    ),
    # The last row says Public: Proprietary sticks. No release date: the latest known counts.
    _row(
        "t.c",
        P1,
        asdm_uid="uid://A002/Xt/X2",
        t_exptime=None,
        data_rights="Public",
        target_name="B",
        scientific_category="Galaxies",
        proposal_abstract="An abstract",
    ),
    # No member OUS: it names a group and the project's text, but counts nowhere else.
    _row("t.d", P1, member_ous_uid="", group_ous_uid="uid://A001/Xt/G2", pi_name="Roe, R"),
    # Member OUS X3: three blocks whose exposures sum differently in another order.
    _row(
        "t.e1",
        P1,
        member_ous_uid="uid://A001/Xt/X3",
        asdm_uid="uid://A002/Xt/X9",
        t_exptime=0.1,
        antenna_arrays="A1:CM01",
    ),
    _row("t.e2", P1, member_ous_uid="uid://A001/Xt/X3", asdm_uid="uid://A002/Xt/X5", t_exptime=0.2),
    _row(
        "t.e3",
        P1,
        member_ous_uid="uid://A001/Xt/X3",
        asdm_uid="uid://A002/Xt/X0",
        t_exptime=0.3,
        target_name="abc",
    ),
    # Project 2 shares member OUS X1 (its project stays the first row's), takes group G1 (its
    # last row) and block X2 (its last row), and has a creator that is a person.
    _row(
        "u.a",
        P2,
        group_ous_uid="uid://A001/Xt/G1",
        asdm_uid="uid://A002/Xt/X2",
        t_exptime=5.0,
        obs_creator_name="Smith, A",
        obs_title="Second project",
    ),
    _row(
        "u.b",
        P2,
        member_ous_uid="uid://A001/Xt/X4",
        asdm_uid="uid://A002/Xt/X2",
        t_exptime=7.0,
        data_rights="Public",
        obs_release_date=datetime(2019, 5, 5, tzinfo=UTC),
        schedblock_name="moved",
        obs_creator_name="alma",
    ),
]


class _Undo(Exception):
    pass


def _derived_by(rebuild, codes: list[str] | None, prepare=scramble) -> dict[str, object]:
    """The tables ``rebuild`` leaves after ``prepare``, everything rolled back afterwards."""
    try:
        with transaction.atomic():
            prepare()
            rebuild(codes)
            tables = snapshot()
            raise _Undo
    except _Undo:
        return tables


def _python(codes: list[str] | None) -> None:
    hierarchy.refresh_summaries_in_python(hierarchy.rebuild_in_python(codes))


def _sql(codes: list[str] | None) -> None:
    hierarchy_sql.refresh_summaries(hierarchy_sql.rebuild(codes))


def test_set_based_rebuild_derives_the_sample_archive_as_the_python_loop_does(sample):
    Observation.objects.bulk_create(CORNERS)
    expected = _derived_by(_python, None)
    assert _derived_by(_sql, None) == expected
    # The corners came out as the rules say, so the comparison compared something.
    x1 = expected["mouses"]["uid://A001/Xt/X1"]
    assert x1["project"] == P1 and x1["group"] == "uid://A001/Xt/G1"
    assert x1["data_rights"] == "Proprietary"
    assert x1["release_date"] == datetime(2030, 1, 1, tzinfo=UTC)
    assert x1["t_exptime"] == 20.2 + 5.0  # each block's last row in this member OUS
    assert x1["target_names"] == "B, Zeta, \u00c6r\u00f8" and x1["n_sources"] == 3
    assert x1["antenna_array"] == "TP" and x1["band_mask"] == 72
    assert expected["mouses"]["uid://A001/Xt/X3"]["t_exptime"] == 0.1 + 0.2 + 0.3
    assert expected["groups"]["uid://A001/Xt/G1"][0] == P2
    assert expected["blocks"]["uid://A002/Xt/X2"] == ("uid://A001/Xt/X4", "moved")
    assert expected["projects"][P1]["pi_name"] == "Roe, R"
    assert expected["projects"][P2]["pi_name"] == "Smith, A"
    assert expected["links"]["t.d"] == (P1, None)
    assert len(expected["mouses"]) > 50 and len(expected["links"]) > 400


def test_set_based_rebuild_of_some_projects_leaves_the_others_alone(sample):
    Observation.objects.bulk_create(CORNERS)
    some = [P2, *Project.objects.filter(is_synthetic=True).values_list("code", flat=True)]
    assert _derived_by(_sql, some) == _derived_by(_python, some)


def test_rebuilding_an_unchanged_hierarchy_writes_no_row(sample):
    hierarchy.rebuild_hierarchy()
    tables = [Observation, Project, GroupOUS, MemberOUS, ExecutionBlock]
    with connection.cursor() as cursor:
        before = {}
        for model in tables:
            cursor.execute(f"SELECT id, xmin::text FROM {model._meta.db_table}")
            before[model] = set(cursor.fetchall())
        hierarchy_sql.rebuild(None)
        for model in tables:
            cursor.execute(f"SELECT id, xmin::text FROM {model._meta.db_table}")
            assert set(cursor.fetchall()) == before[model], model.__name__


# Two rows of one part (same code, texts, group, member OUS and block): the rebuild asks the
# parts whether any row is due a link before it looks at the rows.
TWINS = [
    _row(f"v.{n}", P2, member_ous_uid="uid://A001/Xt/X4", asdm_uid="uid://A002/Xt/X7")
    for n in (1, 2)
]


@pytest.mark.parametrize(
    "wrong",
    [
        "one twin linked to another project",
        "one twin linked to no project",
        "one twin linked to no member OUS",
        "one twin linked to another member OUS",
        "a row without member OUS linked to one",
    ],
)
def test_a_rebuild_relinks_a_row_linked_wrongly_among_rows_linked_right(sample, wrong):
    Observation.objects.bulk_create([*CORNERS, *TWINS])
    hierarchy_sql.rebuild(None)
    expected = snapshot()["links"]
    other_project = Project.objects.get(code=P1)
    other_mous = MemberOUS.objects.get(uid="uid://A001/Xt/X1")
    twin = Observation.objects.filter(obs_id="v.2")
    {
        "one twin linked to another project": lambda: twin.update(project=other_project),
        "one twin linked to no project": lambda: twin.update(project=None),
        "one twin linked to no member OUS": lambda: twin.update(member_ous=None),
        "one twin linked to another member OUS": lambda: twin.update(member_ous=other_mous),
        "a row without member OUS linked to one": lambda: Observation.objects.filter(
            obs_id="t.d"
        ).update(member_ous=other_mous),
    }[wrong]()
    assert snapshot()["links"] != expected

    hierarchy_sql.rebuild(None)

    assert snapshot()["links"] == expected


def _as_after_a_first_load() -> None:
    """The hierarchy as a bulk load leaves it before the rebuild: projects and member OUSs
    created empty by ``ids_for`` (no texts, no aggregates), no group or block derived yet."""
    scramble()
    Project.objects.update(
        title="",
        abstract="",
        pi_name="",
        pi_userid="",
        proposal_authors="",
        science_keyword="",
        scientific_category="",
    )
    MemberOUS.objects.update(group_ous=None)
    ExecutionBlock.objects.all().delete()


def test_a_rebuild_writing_whole_tables_builds_their_indexes_after_and_derives_the_same(
    sample, monkeypatch
):
    """A first load's rebuild writes every project, member OUS and block: their indexes and
    keys are dropped and built once after (``bulk_indexes``' rule, here from any size), and
    the tables come out as the Python loop derives them, every index back in place."""
    Observation.objects.bulk_create(CORNERS)
    expected = _derived_by(_python, None, _as_after_a_first_load)
    monkeypatch.setattr(bulk_indexes, "DEFER_MIN_ROWS", 0)
    tables = [Project, MemberOUS, ExecutionBlock]
    before = {m: bulk_indexes.secondary_indexes(m._meta.db_table) for m in tables}
    keys = {m: bulk_indexes.foreign_keys(m._meta.db_table) for m in tables}
    dropped: list[str] = []
    drop = bulk_indexes.drop

    def spied(table: str, **options) -> list[str]:
        dropped.append(table)
        return drop(table, **options)

    monkeypatch.setattr(bulk_indexes, "drop", spied)
    after: dict = {}

    def rebuilt(codes: list[str] | None) -> None:
        _sql(codes)
        for m in tables:
            table = m._meta.db_table
            after[m] = bulk_indexes.secondary_indexes(table), bulk_indexes.foreign_keys(table)

    assert _derived_by(rebuilt, None, _as_after_a_first_load) == expected
    assert {m._meta.db_table for m in tables} <= set(dropped)
    assert after == {m: (before[m], keys[m]) for m in tables}


def test_ids_for_asks_only_for_what_it_does_not_know_and_finds_what_others_created():
    from django.test.utils import CaptureQueriesContext

    first = hierarchy_sql.ids_for([(P1, "uid://A001/Xt/X1")])
    # Created meanwhile by another writer (a live search): not known, there already.
    other = Project.objects.create(code=P2)

    with CaptureQueriesContext(connection) as queries:
        projects, mouses = hierarchy_sql.ids_for(
            [(P1, "uid://A001/Xt/X1"), (P2, "uid://A001/Xt/X2"), (P2, "")], first
        )

    assert projects == {P1: first[0][P1], P2: other.pk}
    assert mouses == {
        "uid://A001/Xt/X1": first[1]["uid://A001/Xt/X1"],
        "uid://A001/Xt/X2": MemberOUS.objects.get(uid="uid://A001/Xt/X2").pk,
    }
    assert MemberOUS.objects.get(uid="uid://A001/Xt/X2").project_id == other.pk
    sent = " ".join(query["sql"] for query in queries.captured_queries)
    assert P1 not in sent and "uid://A001/Xt/X1" not in sent
