"""Loading real archive output: every format, the right units, idempotent, all or nothing."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from queries.archive.loader import load_paths
from queries.errors import LoadError
from queries.models import (
    ArchiveFile,
    ExecutionBlock,
    FileCategory,
    MemberOUS,
    Observation,
    Project,
)

pytestmark = pytest.mark.django_db
REFDATA = Path(__file__).resolve().parents[3] / "shared" / "refdata"
UNION = Path(__file__).resolve().parents[2] / "queries" / "sample_archive" / "alma_obscore_rows.csv"

TABLE_FILES = sorted(
    [
        *REFDATA.glob("obscore/*.csv"),
        REFDATA / "astroquery/alma-onerow.txt",
        REFDATA / "astroquery/alma-empty.txt",
        REFDATA / "astroquery/alma-shapes.xml",
        *REFDATA.glob("astroquery_legacy/*.xml"),
        *REFDATA.glob("obscore_legacy_formats/*.tsv"),
        REFDATA / "obscore_legacy_formats/teuben-study7_admit_aq.log",
    ],
    key=str,
)
DATALINK_FILES = sorted(REFDATA.glob("astroquery/alma-datalink*.xml"))
NOT_TABLES = [
    REFDATA / "astroquery/cycle0_delivery_asdm_mapping.txt",
    REFDATA / "obscore_legacy_formats/teuben-study7_aq.cols",
]


def raw_row(obs_id: str) -> dict[str, str]:
    with UNION.open(newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["obs_id"] == obs_id)


@pytest.fixture
def union():
    return load_paths([UNION])


def test_all_417_real_rows_load_into_119_member_ouses_of_49_projects(union):
    assert union.rows == 417
    assert Observation.objects.count() == 417
    assert Observation.objects.values("obs_id").distinct().count() == 417
    assert MemberOUS.objects.count() == 119
    assert Project.objects.count() == 49
    assert ExecutionBlock.objects.count() == 121
    assert not Observation.objects.filter(member_ous__isnull=True).exists()


def test_values_keep_the_archive_units(union):
    # Row from the 2024 NGC 1068 query: bandwidth is stored in Hz as the data has it.
    obs = Observation.objects.get(obs_id="uid://A002/X303d22/X7b")
    raw = raw_row("uid://A002/X303d22/X7b")
    assert obs.bandwidth == pytest.approx(1.875e9)
    assert obs.s_fov == pytest.approx(0.006546)  # degrees
    assert obs.t_exptime == pytest.approx(4536.0)  # seconds
    assert obs.frequency == pytest.approx(float(raw["frequency"]))  # GHz
    assert obs.obs_release_date == datetime(2013, 2, 9, 1, 45, tzinfo=UTC)
    assert obs.band_list == "6"
    assert obs.band_mask == 1 << 6
    ra, dec = math.radians(53.122042), math.radians(-27.938694)
    assert obs.s_z == pytest.approx(math.sin(dec))
    assert obs.s_x == pytest.approx(math.cos(dec) * math.cos(ra))


def test_bytes_values_from_astroquery_fixtures_are_decoded(union):
    obs = Observation.objects.get(obs_id="uid://A001/X1295/X35")
    assert obs.s_region.startswith("Polygon ICRS 204.319476 -29.894283")
    assert obs.last_modified == datetime(2019, 12, 11, 20, 57, 17, 290000, tzinfo=UTC)
    assert obs.obs_release_date == datetime(2020, 3, 3, 3, 20, 58, tzinfo=UTC)


def test_placeholder_release_date_is_kept_and_the_member_ous_is_proprietary(union):
    mous = MemberOUS.objects.filter(project__code="2022.1.00338.L").first()
    assert mous.release_date.year == 3000
    assert mous.data_rights == "Proprietary"


def test_target_names_get_a_spelling_insensitive_key(union):
    keys = set(
        Observation.objects.filter(target_name__icontains="1068").values_list(
            "target_name_key", flat=True
        )
    )
    assert keys == {"ngc1068"}


def test_loading_twice_changes_nothing(union):
    before = list(Observation.objects.order_by("obs_id").values())
    again = load_paths([UNION])
    assert again.created == 0
    assert again.updated == 417
    after = list(Observation.objects.order_by("obs_id").values())
    assert before == after
    assert MemberOUS.objects.count() == 119


@pytest.mark.parametrize("path", TABLE_FILES, ids=lambda p: p.name)
def test_every_real_result_format_loads(path):
    result = load_paths([path])
    assert Observation.objects.count() == result.rows
    if path.name != "alma-empty.txt":
        assert result.rows > 0
        assert not Observation.objects.filter(proposal_id="").exists()


def test_legacy_web_form_columns_are_mapped_and_converted():
    load_paths([REFDATA / "astroquery_legacy/ngc4945.xml"])
    obs = Observation.objects.exclude(s_fov=None).first()
    assert obs.s_fov < 0.1  # the 2014 form gave arcsec; stored in degrees
    assert obs.obs_release_date is not None  # FIELD without datatype read as text
    assert obs.member_ous_uid.startswith("uid://")
    assert obs.extra.get("Array")  # a column ObsCore has no place for is kept


def test_unknown_columns_are_kept_in_extra(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text(
        "obs_id,proposal_id,member_ous_uid,my_flag\n"
        "uid://A001/X1/X1.source.a.spw.1,2019.1.00001.S,uid://A001/X1/X1,yes\n"
    )
    result = load_paths([path])
    assert result.unknown_columns == {"my_flag"}
    assert Observation.objects.get().extra == {"my_flag": "yes"}


def test_a_bad_number_rejects_the_whole_load_with_file_row_and_column(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(
        "obs_id,proposal_id,member_ous_uid,frequency\n"
        "uid://A001/X1/X1.source.a.spw.1,2019.1.00001.S,uid://A001/X1/X1,100\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "obs_id,proposal_id,member_ous_uid,frequency\n"
        "uid://A001/X1/X2.source.a.spw.1,2019.1.00001.S,uid://A001/X1/X2,101\n"
        "uid://A001/X1/X2.source.a.spw.2,2019.1.00001.S,uid://A001/X1/X2,abc\n"
    )
    with pytest.raises(LoadError) as caught:
        load_paths([good, bad])
    message = str(caught.value)
    assert "bad.csv" in message
    assert "line/row 3" in message
    assert "'frequency'" in message
    assert Observation.objects.count() == 0


def test_a_row_without_obs_id_in_a_file_that_has_the_column_is_rejected(tmp_path):
    bad = tmp_path / "missing.csv"
    bad.write_text("obs_id,proposal_id,member_ous_uid\n,2019.1.00001.S,uid://A001/X1/X2\n")
    with pytest.raises(LoadError, match=r"missing\.csv, line/row 2, column 'obs_id'"):
        load_paths([bad])


def test_a_ragged_row_is_rejected(tmp_path):
    bad = tmp_path / "ragged.csv"
    bad.write_text("obs_id,proposal_id,member_ous_uid\na,b\n")
    with pytest.raises(LoadError, match="line/row 2: has 2 fields where the header has 3"):
        load_paths([bad])


@pytest.mark.parametrize("path", NOT_TABLES, ids=lambda p: p.name)
def test_files_that_are_not_obscore_tables_are_refused_by_name(path):
    with pytest.raises(LoadError, match=f"{path.name}.*is not an ObsCore table"):
        load_paths([path])


def test_the_command_reports_errors_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("obs_id,proposal_id,member_ous_uid,t_exptime\nx,2019.1.00001.S,u,soon\n")
    with pytest.raises(CommandError, match=r"nothing was loaded: .*bad\.csv, line/row 2, column"):
        call_command("load_archive", str(bad))


def test_datalink_listing_becomes_the_member_ous_file_catalogue():
    result = load_paths([REFDATA / "astroquery/alma-datalink.xml"])
    assert result.datalink_files == 7
    files = {f.name: f for f in ArchiveFile.objects.all()}
    product = files["2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar"]
    assert product.size == 556278784
    assert product.category == FileCategory.PRODUCT
    assert (
        files["2017.1.01185.S_uid___A001_X12a3_Xe9_auxiliary.tar"].category
        == FileCategory.AUXILIARY
    )
    assert files["member.uid___A001_X12a3_Xe9.README.txt"].category == FileCategory.README
    raws = [f for f in files.values() if f.category == FileCategory.RAW]
    assert len(raws) == 4
    assert all(f.execution_block is not None for f in raws)
    assert product.member_ous.uid == "uid://A001/X12a3/Xe9"


def test_recursive_datalink_contents_are_not_catalogued_as_deliverables():
    result = load_paths([REFDATA / "astroquery/alma-datalink-recurse-this.xml"])
    assert result.datalink_files == 0
    assert ArchiveFile.objects.count() == 0
