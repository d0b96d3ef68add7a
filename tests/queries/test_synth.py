"""The synthetic archive: deterministic, complete, ALMA-shaped; runs on PostgreSQL and SQLite."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, F, Value
from django.db.models.functions import Cos, Radians

from queries import models as qm
from queries import synth
from queries.synth import (
    BAND_RANGES_GHZ,
    FIELDS,
    RELEASE_DELAY,
    SYNTHETIC_CODE_RE,
    generate_archive,
    synthesize_archive,
)
from queries.units import datetime_to_mjd, mjd_to_datetime
from tests.factories import ProjectFactory

ROWS = 2000
NOW = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.fixture
def archive(db):
    synthesize_archive(ROWS, seed=11, now=NOW, batch_size=500)


def _snapshot() -> list[tuple]:
    return list(
        qm.Observation.objects.order_by("obs_id").values_list(
            "obs_id", "proposal_id", "frequency", "s_ra", "s_dec", "t_min", "data_rights"
        )
    )


def test_same_seed_gives_the_same_tables():
    first = generate_archive(ROWS, seed=5, now=NOW)
    second = generate_archive(ROWS, seed=5, now=NOW)
    for a, b in zip(first.tables, second.tables, strict=True):
        assert a.columns == b.columns, a.model.__name__


# Digests of ``generate_archive`` output taken before ``_build_tables`` was split into one
# builder per table: the split must not move a single value, draw or column. Re-pinned with
# floats at 12 significant digits (``_stable``) after the full-precision pins differed between
# two CPUs for the same code; the ArchiveBuilder rewrite was checked byte-identical to main.
DIGESTS_BEFORE_THE_SPLIT = {
    (1, 1): "55b1585f38a1066cc58e9fffd91611d26298fb774566bfecb9d56e6fefef1cfa",
    (300, 1): "70defe508c6e0297de01e85473b702a9d1b21a4babbebb373cccf64f92192c39",
    (2000, 1): "995048f4aa68994f5abd7acb6295339707aa9e618d3fb20d2fd1e156065a9e46",
    (1500, 7): "af2d05b6ecb391dfa376ab7c00d88c6610876c73563e14d2ff6532f168ffadc3",
}


def _stable(value):
    """Floats to 12 significant digits: numpy's vectorised sin/cos/exp may differ in the last
    bit between CPUs (SIMD paths), which must not read as a changed archive."""
    return f"{value:.12g}" if isinstance(value, float) else value


def _digest(rows: int, seed: int) -> str:
    """Every table, column and value (in order, by ``repr``) of one generated archive."""
    archive = generate_archive(rows, seed=seed, now=datetime(2026, 1, 1, tzinfo=UTC))
    digest = hashlib.sha256()
    for table in archive.tables:
        digest.update(table.model.__name__.encode())
        for name, values in table.columns.items():
            digest.update(name.encode())
            digest.update(repr([_stable(v) for v in values]).encode())
    return digest.hexdigest()


@pytest.mark.parametrize(("rows", "seed"), list(DIGESTS_BEFORE_THE_SPLIT))
def test_a_seed_gives_byte_for_byte_the_archive_it_gave_before_the_split(rows, seed):
    assert _digest(rows, seed) == DIGESTS_BEFORE_THE_SPLIT[rows, seed]


def test_another_seed_gives_another_archive():
    first = generate_archive(ROWS, seed=5, now=NOW).table(qm.Observation).columns["frequency"]
    other = generate_archive(ROWS, seed=6, now=NOW).table(qm.Observation).columns["frequency"]
    assert first != other


@pytest.mark.django_db
def test_stored_archive_is_the_same_for_a_seed_after_replace():
    synthesize_archive(ROWS, seed=3, now=NOW)
    before = _snapshot()
    synthesize_archive(ROWS, seed=3, now=NOW, replace=True)
    assert _snapshot() == before
    assert len(before) == ROWS


def test_creates_exactly_the_rows_asked_for(archive):
    assert qm.Observation.objects.count() == ROWS
    assert sum(qm.MemberOUS.objects.values_list("n_observations", flat=True)) == ROWS


def test_obs_id_is_unique_and_names_mous_source_and_spw(archive):
    rows = list(qm.Observation.objects.values_list("obs_id", "member_ous_uid", "target_name"))
    assert len({r[0] for r in rows}) == len(rows)
    for obs_id, mous, target in rows[:200]:
        assert obs_id.startswith(f"{mous}.source.{target.replace(' ', '_')}.spw.")


def test_projects_are_flagged_synthetic_with_codes_outside_alma_numbers(archive):
    codes = list(qm.Project.objects.values_list("code", "is_synthetic"))
    assert codes
    for code, synthetic in codes:
        assert synthetic
        assert SYNTHETIC_CODE_RE.match(code), code
        assert int(code.split(".")[2]) >= 90000
    assert not qm.ArchiveFile.objects.filter(is_synthetic=False).exists()
    assert not qm.ArchiveFile.objects.exclude(access_url="").exists()


def test_hierarchy_is_complete_at_every_level(archive):
    assert not qm.Project.objects.filter(science_goals=None).exists()
    assert not qm.ScienceGoal.objects.filter(group_ouses=None).exists()
    assert not qm.GroupOUS.objects.filter(member_ouses=None).exists()
    assert not qm.MemberOUS.objects.filter(execution_blocks=None).exists()
    assert not qm.MemberOUS.objects.filter(observations=None).exists()
    for g in qm.GroupOUS.objects.all():
        assert g.project_id == g.science_goal.project_id
    obs_projects = set(qm.Observation.objects.values_list("project_id", flat=True))
    assert obs_projects == set(qm.Project.objects.values_list("id", flat=True))
    mismatched = qm.Observation.objects.exclude(proposal_id=F("project__code"))
    assert not mismatched.exists()


def test_member_ous_arrays_come_12m_then_7m_then_tp(archive):
    for g in qm.GroupOUS.objects.prefetch_related("member_ouses"):
        arrays = [m.antenna_array for m in sorted(g.member_ouses.all(), key=lambda m: m.id)]
        assert arrays == ["12m", "7m", "TP"][: len(arrays)]


def test_member_ous_aggregates_match_their_observations(archive):
    per_mous = defaultdict(list)
    for row in qm.Observation.objects.values(
        "member_ous_id", "band_mask", "target_name", "t_min", "t_exptime"
    ):
        per_mous[row["member_ous_id"]].append(row)
    for mous in qm.MemberOUS.objects.all():
        rows = per_mous[mous.id]
        assert mous.n_observations == len(rows)
        assert mous.n_sources == len({r["target_name"] for r in rows})
        mask = 0
        for r in rows:
            mask |= r["band_mask"]
        assert mous.band_mask == mask
        assert mous.t_min == pytest.approx(min(r["t_min"] for r in rows))
        per_source = {r["target_name"]: r["t_exptime"] for r in rows}
        assert mous.t_exptime == pytest.approx(sum(per_source.values()), rel=1e-6)
        assert sorted(mous.target_names.split(", ")) == sorted(per_source)


def test_files_per_member_ous_are_products_auxiliary_readme_and_one_raw_per_eb(archive):
    for mous in qm.MemberOUS.objects.annotate(n_eb=Count("execution_blocks")):
        cats = Counter(mous.files.values_list("category", flat=True))
        assert cats[qm.FileCategory.PRODUCT] >= 1
        assert cats[qm.FileCategory.AUXILIARY] == 1
        assert cats[qm.FileCategory.README] == 1
        assert cats[qm.FileCategory.RAW] == mous.n_eb
    raw = qm.ArchiveFile.objects.filter(category=qm.FileCategory.RAW)
    assert not raw.filter(execution_block=None).exists()
    assert not qm.ArchiveFile.objects.filter(size__lte=0).exists()
    name = raw.select_related("execution_block", "member_ous__project").first()
    asdm = name.execution_block.asdm_uid.replace(":", "_").replace("/", "_")
    assert name.name == f"{name.member_ous.project.code}_{asdm}.asdm.sdm.tar"


def test_frequencies_lie_inside_their_band(archive):
    for band, freq, bandwidth in qm.Observation.objects.values_list(
        "band_list", "frequency", "bandwidth"
    ):
        lo, hi = BAND_RANGES_GHZ[int(band)]
        assert lo <= freq - bandwidth / 2e9 and freq + bandwidth / 2e9 <= hi, (band, freq)


def test_band_mask_has_exactly_the_bit_of_band_list(archive):
    for band, mask in qm.Observation.objects.values_list("band_list", "band_mask").distinct():
        assert mask == 1 << int(band)


def test_bands_3_6_and_7_are_the_most_observed():
    bands = Counter(
        generate_archive(50_000, seed=1, now=NOW).table(qm.Observation).columns["band_list"]
    )
    top3 = {b for b, _ in bands.most_common(3)}
    assert top3 == {"3", "6", "7"}
    assert set(bands) <= {str(b) for b in range(1, 11)}


def test_positions_cluster_on_popular_fields():
    cols = generate_archive(20_000, seed=2, now=NOW).table(qm.Observation).columns
    near = 0
    for ra, dec in zip(cols["s_ra"], cols["s_dec"], strict=True):
        if any(
            abs(dec - f.dec) < 2 and abs(ra - f.ra) * math.cos(math.radians(dec)) < 2
            for f in FIELDS
        ):
            near += 1
    assert near / len(cols["s_ra"]) > 0.4


def test_unit_vectors_have_unit_length_and_point_at_ra_dec(archive):
    for ra, dec, x, y, z in qm.Observation.objects.values_list(
        "s_ra", "s_dec", "s_x", "s_y", "s_z"
    )[:500]:
        assert x * x + y * y + z * z == pytest.approx(1.0, abs=1e-12)
        assert math.degrees(math.asin(z)) == pytest.approx(dec, abs=1e-6)
        assert math.degrees(math.atan2(y, x)) % 360 == pytest.approx(ra, abs=1e-6)


def test_release_is_a_year_after_first_observation_and_sets_rights(archive):
    for mous in qm.MemberOUS.objects.all():
        days = datetime_to_mjd(mous.release_date) - mous.t_min
        assert days == pytest.approx(RELEASE_DELAY.days, abs=1e-5)
        expected = "Proprietary" if mous.release_date > NOW else "Public"
        assert mous.data_rights == expected
    mismatched = qm.Observation.objects.exclude(obs_release_date=F("member_ous__release_date"))
    assert not mismatched.exists()
    assert not qm.Observation.objects.exclude(data_rights=F("member_ous__data_rights")).exists()


def test_dates_span_2011_to_2026_with_some_still_proprietary():
    cols = generate_archive(50_000, seed=4, now=NOW).table(qm.MemberOUS).columns
    assert min(cols["t_min"]) >= datetime_to_mjd(datetime(2011, 1, 1, tzinfo=UTC))
    assert max(cols["t_min"]) < datetime_to_mjd(datetime(2027, 1, 1, tzinfo=UTC))
    rights = Counter(cols["data_rights"])
    assert rights["Public"] > rights["Proprietary"] > 0


def test_target_name_key_drops_case_spaces_underscores_and_dashes(archive):
    for name, key in qm.Observation.objects.values_list("target_name", "target_name_key")[:300]:
        assert key == name.lower().replace(" ", "").replace("_", "").replace("-", "")


@pytest.mark.django_db
def test_refuses_to_load_twice_without_replace():
    synthesize_archive(200, seed=1, now=NOW)
    with pytest.raises(ValueError, match="--replace"):
        synthesize_archive(200, seed=1, now=NOW)


@pytest.mark.django_db
def test_replace_keeps_real_and_sample_projects():
    real = ProjectFactory(code="2019.1.00130.S")
    sample = ProjectFactory(code="2011.0.00001.S", is_synthetic=True)
    synthesize_archive(300, seed=1, now=NOW)
    synthesize_archive(300, seed=2, now=NOW, replace=True)
    assert qm.Project.objects.filter(pk__in=[real.pk, sample.pk]).count() == 2
    assert qm.Observation.objects.count() == 300


@pytest.mark.django_db
def test_new_rows_after_synthesis_get_fresh_primary_keys():
    synthesize_archive(100, seed=1, now=NOW)
    top = max(qm.Project.objects.values_list("pk", flat=True))
    assert ProjectFactory(code="2019.1.00999.S").pk > top


@pytest.mark.django_db
def test_command_reports_counts_and_rejects_bad_rows(capsys):
    call_command("synth_archive", "--rows", "150", "--seed", "9", "--batch", "40")
    out = capsys.readouterr().out
    assert "150 observation" in out
    assert qm.Observation.objects.count() == 150
    with pytest.raises(CommandError, match="--rows"):
        call_command("synth_archive", "--rows", "-1")
    with pytest.raises(CommandError, match="--batch"):
        call_command("synth_archive", "--rows", "10", "--batch", "0")


SEARCH_INDEXES = {
    "obs_sky_cover",
    "obs_sky_zone",
    "project_title_trgm",
    "project_abstract_trgm",
    "project_pi_name_trgm",
    "obs_target_key_trgm",
    "obs_target_key_upper",
}


def _stored(archive: synth.SynthArchive) -> dict[str, list[tuple]]:
    """Every concrete column of every generated table as the database holds it."""
    out = {}
    for table in archive.tables:
        names = [f.attname for f in table.model._meta.concrete_fields]
        out[table.model.__name__] = list(table.model.objects.order_by("pk").values_list(*names))
    return out


def _indexes_and_keys() -> set[tuple[str, str]]:
    """(table, definition) of every index and constraint of the generated tables."""
    tables = [m._meta.db_table for m in synth.GENERATED_MODELS]
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%(t)s) UNION ALL "
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%(t)s)",
            {"t": tables},
        )
        return set(cursor.fetchall())


@pytest.mark.django_db
def test_stored_archive_is_every_column_generate_archive_gives(monkeypatch):
    """What ``synthesize_archive`` stores (on PostgreSQL: COPY, indexes deferred, observations
    built while the hierarchy is stored) against the ORM's inserts of ``generate_archive``:
    every column of every table, defaults, NULLs, instants and floats to the bit."""
    monkeypatch.setattr("queries.bulk_indexes.DEFER_MIN_ROWS", 1)
    start = synth._next_ids(connection.alias)
    schema = _indexes_and_keys()
    with transaction.atomic():
        synthesize_archive(ROWS, seed=4, now=NOW)
        assert _indexes_and_keys() == schema  # every deferred index and key is back
        archive = generate_archive(ROWS, seed=4, now=NOW, id_start=start)
        stored = _stored(archive)
        transaction.set_rollback(True)
    with transaction.atomic():
        for table in archive.tables:
            synth._bulk_create(table, connection.alias, batch_size=500)
        created = _stored(archive)
    assert sum(map(len, stored.values())) > ROWS
    assert stored == created


@pytest.mark.django_db
def test_search_indexes_exist_on_postgresql_and_nowhere_else():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
            assert SEARCH_INDEXES <= {r[0] for r in cursor.fetchall()}
            cursor.execute(
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indisclustered AND x.indrelid = 'queries_observation'::regclass"
            )
            assert cursor.fetchall() == [("obs_sky_zone",)]
        else:
            names = {t.name for t in connection.introspection.get_table_list(cursor)}
            indexes = set()
            for table in names:
                indexes |= set(connection.introspection.get_constraints(cursor, table))
            assert not SEARCH_INDEXES & indexes


@pytest.mark.django_db
def test_dot_product_cone_with_declination_prefilter_matches_great_circle_distance():
    """The cone form the benchmark times gives the rows a great-circle distance gives."""
    synthesize_archive(ROWS, seed=8, now=NOW)
    ra0, dec0, radius = FIELDS[3].ra, FIELDS[3].dec, 0.3  # Orion: crowded
    x0 = math.cos(math.radians(dec0)) * math.cos(math.radians(ra0))
    y0 = math.cos(math.radians(dec0)) * math.sin(math.radians(ra0))
    z0 = math.sin(math.radians(dec0))
    found = set(
        qm.Observation.objects.filter(s_dec__range=(dec0 - radius - 0.15, dec0 + radius + 0.15))
        .alias(
            dot=F("s_x") * x0 + F("s_y") * y0 + F("s_z") * z0,
            reach=Cos(Radians(Value(radius) + F("s_fov") / 2)),
        )
        .filter(dot__gte=F("reach"))
        .values_list("obs_id", flat=True)
    )
    expected = set()
    for obs_id, ra, dec, fov in qm.Observation.objects.values_list(
        "obs_id", "s_ra", "s_dec", "s_fov"
    ):
        cos_d = math.sin(math.radians(dec)) * math.sin(math.radians(dec0)) + math.cos(
            math.radians(dec)
        ) * math.cos(math.radians(dec0)) * math.cos(math.radians(ra - ra0))
        if math.degrees(math.acos(min(1.0, cos_d))) <= radius + fov / 2 + 1e-9:
            expected.add(obs_id)
    assert found == expected
    assert len(found) >= 10


# --- one builder at a time, on a small seed ------------------------------------------------


@pytest.fixture(scope="module")
def small():
    """A builder for 300 rows of seed 1 after every builder ran, in ``generate_archive``'s order."""
    builder = synth.ArchiveBuilder(300, seed=1, now=NOW)
    builder.build_all()
    return builder


def _columns_have_one_length(table) -> None:
    assert {len(values) for values in table.columns.values()} == {len(table)}


def test_builders_in_order_are_the_generator(small):
    archive = generate_archive(300, seed=1, now=NOW)
    built = [small.projects, small.goals, small.groups, small.members]
    built += [small.blocks, small.files, small.observations]
    for mine, theirs in zip(built, archive.tables, strict=True):
        assert mine.columns == theirs.columns, mine.model.__name__


def test_project_builder_gives_synthetic_codes_and_texts(small):
    table = small.projects
    _columns_have_one_length(table)
    assert len(table) == len(small.p_cycle)
    assert all(SYNTHETIC_CODE_RE.match(code) for code in table.columns["code"])
    assert len(set(table.columns["code"])) == len(table)
    assert all(table.columns["is_synthetic"])
    authors, pis = _cols(table, "proposal_authors", "pi_name")
    assert all(a.startswith(pi) for a, pi in zip(authors, pis, strict=True))


def _cols(table, *names):
    return [table.columns[name] for name in names]


def test_science_goal_builder_keeps_windows_inside_the_band_and_links_projects(small):
    _columns_have_one_length(small.goals)
    assert set(small.goals.columns["project_id"]) == set(small.projects.columns["id"])
    for band, freq, bw in zip(small.sg_band, small.sg_freq, small.sg_bw, strict=True):
        lo, hi = BAND_RANGES_GHZ[int(band)]
        assert (freq - bw / 2e9 >= lo - 1e-9).all()
        assert (freq + bw / 2e9 <= hi + 1e-9).all()
    assert ((small.sg_field >= -1) & (small.sg_field < len(FIELDS))).all()


def test_source_builder_names_are_unique_within_a_goal_and_vectors_are_unit(small):
    assert len(small.src_names) == int(small.sg_nsrc.sum())
    start = 0
    for count in small.sg_nsrc.tolist():
        names = small.src_names[start : start + count]
        assert len(set(names)) == len(names)
        start += count
    assert np.allclose((small.src_vec**2).sum(axis=1), 1.0)
    assert ((small.src_dec >= -90) & (small.src_dec <= 90)).all()
    assert ((small.src_gal_l >= 0) & (small.src_gal_l < 360)).all()


def test_group_ous_builder_links_each_group_to_its_goal_and_project(small):
    groups, goals = small.groups, small.goals
    _columns_have_one_length(groups)
    goal_project = dict(zip(*_cols(goals, "id", "project_id"), strict=True))
    for goal, project in zip(*_cols(groups, "science_goal_id", "project_id"), strict=True):
        assert goal_project[goal] == project
    assert not set(groups.columns["uid"]) & set(goals.columns["uid"])


def test_member_ous_builder_releases_a_year_after_the_first_observation(small):
    members = small.members
    _columns_have_one_length(members)
    assert sum(members.columns["n_observations"]) == 300
    assert set(members.columns["group_ous_id"]) == set(small.groups.columns["id"])
    for t_min, release, rights in zip(
        *_cols(members, "t_min", "release_date", "data_rights"), strict=True
    ):
        assert release == mjd_to_datetime(t_min) + RELEASE_DELAY
        assert rights == ("Proprietary" if release > NOW else "Public")


def test_execution_block_builder_gives_each_member_ous_one_to_four_blocks(small):
    blocks = small.blocks
    _columns_have_one_length(blocks)
    per_member = Counter(blocks.columns["member_ous_id"])
    assert set(per_member) == set(small.members.columns["id"])
    assert set(per_member.values()) <= {1, 2, 3, 4}
    assert len(set(blocks.columns["asdm_uid"])) == len(blocks)


def test_file_builder_gives_one_raw_tar_per_block_and_one_readme_per_member_ous(small):
    files = small.files
    _columns_have_one_length(files)
    category = files.columns["category"]
    raw = [
        block
        for block, kind in zip(files.columns["execution_block_id"], category, strict=True)
        if kind == qm.FileCategory.RAW.value
    ]
    assert sorted(raw) == small.blocks.columns["id"]
    assert category.count(qm.FileCategory.README.value) == len(small.m_uids)
    assert len(set(files.columns["name"])) == len(files)


def test_observation_builder_rows_agree_with_their_member_ous_and_project(small):
    rows = small.observations
    _columns_have_one_length(rows)
    assert len(rows) == 300
    members = small.members.columns
    member_uid = dict(zip(members["id"], members["uid"], strict=True))
    code = dict(zip(*_cols(small.projects, "id", "code"), strict=True))
    for mous_id, mous_uid, project_id, proposal, obs_id in zip(
        *_cols(rows, "member_ous_id", "member_ous_uid", "project_id", "proposal_id", "obs_id"),
        strict=True,
    ):
        assert member_uid[mous_id] == mous_uid
        assert code[project_id] == proposal
        assert obs_id.startswith(f"{mous_uid}.source.")
    assert len(set(rows.columns["obs_id"])) == 300


def test_no_rows_give_empty_tables():
    assert set(generate_archive(0, seed=1, now=NOW).counts().values()) == {0}
