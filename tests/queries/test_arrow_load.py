"""The fast path for delimited files (``queries.archive.arrow_load``): the same rows as the exact
path for every file it takes, and the exact path's messages for every file it does not."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from queries import staging
from queries.archive import arrow_load
from queries.archive.formats import ArrowRows, ColumnRows, read_table
from queries.archive.loader import columns_from_table, load_paths, map_column
from queries.errors import LoadError
from queries.models import MemberOUS, Observation, Project
from tests.queries.test_loader import REFDATA, UNION

pytestmark = pytest.mark.django_db

DELIMITED = sorted(
    [UNION, *REFDATA.glob("obscore/*.csv"), *REFDATA.glob("obscore_legacy_formats/*.tsv")],
    key=str,
)
HEADER = "obs_id,proposal_id,member_ous_uid,target_name,frequency,t_exptime,band_list,"


def fast_values(path: Path) -> dict[str, list]:
    """The fast path's rows of ``path`` as the exact path's ``Columns.values`` would hold them."""
    normalised = arrow_load.normalise(read_table(path))
    assert normalised is not None, f"{path.name}: the fast path gave up"
    values = {f.name: normalised.table.column(f.column).to_pylist() for f in staging.FIELDS}
    values["extra"] = [json.loads(text) for text in values["extra"]]
    return values


def exact_values(path: Path) -> dict[str, list]:
    values = columns_from_table(read_table(path)).values
    return {f.name: values[f.name] for f in staging.FIELDS}


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_same_rows(path: Path) -> None:
    fast, exact = fast_values(path), exact_values(path)
    for name, column in exact.items():
        assert len(fast[name]) == len(column), name
        pairs = enumerate(zip(fast[name], column, strict=True))
        differing = [(i, a, b) for i, (a, b) in pairs if not same(a, b)]
        assert not differing, (name, differing[:3])


def row_by_row(path: Path) -> bool:
    """Whether the exact path normalises ``path`` a row at a time (``normalise_values``): no
    obs_id column (one is derived from each row) or two file columns for one mirror column."""
    table = read_table(path)
    targets = [map_column(name)[0] for name in table.columns]
    targets = [t for t in targets if t is not None]
    return "obs_id" not in table.columns or len(targets) != len(set(targets))


@pytest.mark.parametrize("path", DELIMITED, ids=lambda p: p.name)
def test_every_real_delimited_file_normalises_to_the_exact_paths_rows(path):
    table = read_table(path)
    assert isinstance(table.rows, ArrowRows)
    if row_by_row(path):
        assert arrow_load.normalise(table) is None  # the exact path's own rules for these
    else:
        assert_same_rows(path)


def test_most_real_files_take_the_fast_path():
    assert sum(not row_by_row(path) for path in DELIMITED) >= 10


def test_cells_that_plain_text_changes_come_out_as_it_changes_them(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text(
        HEADER + "s_region,extra_note\n"
        # blanks at the edges, a b'' literal, null spellings, a non-ASCII edge, a quoted newline
        "  uid://A/X1/X1.a  ,2019.1.00001.S,uid://A/X1/X1,b'NGC 1068',  1.5 ,--,\"3, 6\","
        '"line one\nline two",nan\n'
        'uid://A/X1/X1.b,2019.1.00001.S,uid://A/X1/X1,\u00e9toile\u2003,NULL,10,b"7",None,'
        "\u00a0kept\n"
        "uid://A/X1/X1.c,2019.1.00001.S,uid://A/X1/X1,<NA>,2e3,1_000,,,\n",
        encoding="utf-8",
    )
    assert_same_rows(path)
    values = fast_values(path)
    assert values["obs_id"][0] == "uid://A/X1/X1.a"
    assert values["target_name"] == ["NGC 1068", "\u00e9toile", ""]
    assert values["t_exptime"] == [None, 10.0, 1000.0]  # "1_000": float() reads it
    assert values["band_list"] == ["3 6", "7", ""]
    assert values["extra"] == [{}, {"extra_note": "kept"}, {}]


def test_a_column_in_another_unit_or_too_long_goes_through_the_loaders_rules(tmp_path):
    path = tmp_path / "legacy.tsv"
    path.write_text(
        "obs_id\tProject code\tRA\tIntegration\tobs_collection\n"
        "a.1\t2019.1.00001.S\t10.5\t3600\tALMA-with-a-name-longer-than-16\n",
        encoding="utf-8",
    )
    assert_same_rows(path)
    values = fast_values(path)
    assert values["proposal_id"] == ["2019.1.00001.S"]
    assert values["obs_collection"] == ["ALMA-with-a-name"]  # cut to the column's 16


def test_pyarrow_reads_a_number_only_where_float_reads_the_same_number():
    texts = [
        "1e5", ".5", "5.", "+5", "-0", "inf", "-Infinity", "1e500", "1e-400", "00012",
        "-.5e-3", "0.1", "57057.312088", "3.1771237720729045e-08", "1_0", "0x10", "1d5",
        "1.5f", " 5", "5 ", "\u0661\u0662", "+", ".", "1.5...",
    ]  # fmt: skip
    for text in texts:
        try:
            number = pc.cast(pa.array([text]), pa.float64())[0].as_py()
        except pa.ArrowInvalid:
            continue
        assert math.copysign(1, number) == math.copysign(1, float(text)), text
        assert number == float(text), text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,2019.1.00001.S,u,x,abc,1,3,\n", r"line/row 2, column 'frequency'"),
        ("a,2019.1.00001.S,u,x,1,1,3,\n,2019.1.00001.S,u,x,1,1,3,\n", r"line/row 3.*'obs_id'"),
        ('a,2019.1.00001.S,u,"x\ny",1,1,3,\nb,,u,x,1,1,3,\n', r"line/row 4.*'proposal_id'"),
        ("a,2019.1.00001.S,u,x,1,1,3\n", r"line/row 2: has 7 fields where the header has 8"),
        ("a,2019.1.00001.S,u,x,1,soon,3,\n", r"line/row 2, column 't_exptime'"),
    ],
)
def test_a_cell_the_fast_path_refuses_is_named_by_the_exact_path(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "s_region\n" + body, encoding="utf-8")
    try:
        table = read_table(path)
    except LoadError:  # a ragged row: pyarrow refused the file, the csv module named the line
        table = None
    if table is not None:
        assert isinstance(table.rows, ArrowRows)
        assert arrow_load.normalise(table) is None
    with pytest.raises(LoadError, match=r"bad\.csv, " + message):
        load_paths([path])
    assert Observation.objects.count() == 0


def test_a_repeated_obs_id_keeps_its_last_row_in_the_place_of_its_first(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(
        HEADER + "s_region\n"
        "a,2019.1.00001.S,u,first,1,1,3,\nb,2019.1.00001.S,u,b,1,1,3,\n"
        "a,2019.1.00001.S,u,second,1,1,3,\n"
    )
    assert_same_rows(path)
    assert fast_values(path)["target_name"] == ["second", "b"]
    assert load_paths([path]).rows == 2
    assert Observation.objects.get(obs_id="a").target_name == "second"


def test_arrow_rows_read_as_the_exact_reader_reads_them():
    rows = read_table(UNION).rows
    assert isinstance(rows, ArrowRows)
    exact = rows.exactly()
    assert isinstance(exact, ColumnRows)
    assert sum(block.num_rows for block in rows.blocks()) == len(rows) == len(exact) == 417
    assert rows[5] == exact[5]


@pytest.fixture
def small_blocks(monkeypatch):
    """pyarrow parses (and the fast path COPYs) 16 kB at a time: a few rows per block."""
    monkeypatch.setattr(ArrowRows, "BLOCK_BYTES", 1 << 14)


@pytest.mark.parametrize("blocks", ["one block", "many blocks"])
def test_the_mirror_holds_the_same_rows_whichever_path_loaded_them(request, monkeypatch, blocks):
    if blocks == "many blocks":
        request.getfixturevalue("small_blocks")
        assert sum(1 for _ in read_table(UNION).rows.blocks()) > 10
    fields = [f.name for f in staging.FIELDS] + ["project__code", "member_ous__uid"]
    load_paths([UNION])
    fast = list(Observation.objects.order_by("obs_id").values(*fields))
    Observation.objects.all().delete()
    MemberOUS.objects.all().delete()
    Project.objects.all().delete()
    monkeypatch.setattr(arrow_load, "normalise", lambda table: None)

    load_paths([UNION])

    assert list(Observation.objects.order_by("obs_id").values(*fields)) == fast


def test_a_second_file_with_rows_already_loaded_takes_the_merge(tmp_path):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(HEADER + "s_region\na,2019.1.00001.S,u,old,1,1,3,\n")
    second.write_text(HEADER + "s_region\na,2019.1.00001.S,u,new,1,1,3,\nb,2019.1.1.S,v,x,1,1,3,\n")

    result = load_paths([first, second])  # into an empty mirror: COPY straight into its table

    assert (result.rows, result.created, result.updated) == (3, 2, 1)
    assert dict(Observation.objects.values_list("obs_id", "target_name")) == {"a": "new", "b": "x"}
    assert not Observation.objects.filter(member_ous__isnull=True).exists()


def test_an_obs_id_in_two_blocks_is_left_to_the_exact_path(tmp_path, small_blocks):
    path = tmp_path / "apart.csv"
    filler = "".join(f"f{i},2019.1.00001.S,u,{'x' * 200},1,1,3,\n" for i in range(200))
    path.write_text(
        HEADER
        + "s_region\na,2019.1.00001.S,u,first,1,1,3,\n"
        + filler
        + "a,2019.1.00001.S,u,second,1,1,3,\n"
    )
    table = read_table(path)
    assert sum(1 for _ in table.rows.blocks()) > 1
    assert arrow_load.load(table, into_mirror=True) is None
    assert Observation.objects.count() == 0  # nothing of the file was left

    result = load_paths([path])

    assert (result.rows, result.created) == (201, 201)
    assert Observation.objects.get(obs_id="a").target_name == "second"


@pytest.mark.parametrize("body", ["", "\n\n", ",,,,,,,,\n"])
def test_a_file_with_no_rows_loads_none(tmp_path, body):
    path = tmp_path / "empty.csv"
    path.write_text(HEADER + "s_region\n" + body)

    result = load_paths([path])

    assert (result.rows, result.files) == (0, 1)
    assert Observation.objects.count() == 0
