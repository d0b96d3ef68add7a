"""A first load's spectral windows, computed from the rows it holds (``arrow_windows``) and
written with them (``arrow_load``): row for row what ``queries.spectral.row_windows`` says,
whichever path and however many blocks; any other load rebuilds them from the mirror."""

from __future__ import annotations

import math
from collections import Counter

import pyarrow as pa
import pytest
from django.db import connection

from queries import hierarchy
from queries.archive import arrow_load, written_windows
from queries.archive.arrow_windows import BlockWindows
from queries.archive.formats import ArrowRows, read_table
from queries.archive.loader import load_paths
from queries.models import Observation, SpectralWindow
from queries.spectral import row_windows
from tests.queries.test_arrow_load import DELIMITED, HEADER, row_by_row
from tests.queries.test_loader import UNION

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast path loads into PostgreSQL only"
)

SUPPORT = (
    "[95.06..96.94GHz,1128.91kHz,769.7uJy/beam@10km/s,31.8uJy/beam@native, XX YY] U "
    "[96.84..98.71GHz,1128.91kHz,763uJy/beam@10km/s,31.8uJy/beam@native, XX YY] U "
    "[107.06..108.94GHz,1.5MHz,743.4uJy/beam@10km/s,32.6uJy/beam@native, XX YY]"
)
C = 299792458.0


def key(value: float | None) -> object:
    """A float as a comparable key: NaN equal to NaN, None kept."""
    return "nan" if value is not None and math.isnan(value) else value


def expected(rows: list[dict]) -> Counter:
    return Counter(
        (i, w.lo_ghz, w.hi_ghz, key(w.channel_hz))
        for i, row in enumerate(rows)
        for w in row_windows(
            row["frequency_support"], row["em_min"], row["em_max"], row["spectral_resolution"]
        )
    )


def computed(blocks: list[list[dict]]) -> Counter:
    """``BlockWindows`` over ``blocks`` (one reader for them all, as for a file's blocks)."""
    reader, found, offset = BlockWindows(), Counter(), 0
    for block in blocks:
        table = pa.table(
            {
                "frequency_support": pa.array([r["frequency_support"] for r in block], pa.string()),
                **{
                    name: pa.array([r[name] for r in block], pa.float64())
                    for name in ("em_min", "em_max", "spectral_resolution")
                },
            }
        )
        row_of, ranges = reader.of(table)
        assert len(row_of) == ranges.num_rows
        found.update(
            (offset + int(i), lo, hi, key(channel))
            for i, lo, hi, channel in zip(
                row_of,
                ranges.column("lo_ghz").to_pylist(),
                ranges.column("hi_ghz").to_pylist(),
                ranges.column("channel_hz").to_pylist(),
                strict=True,
            )
        )
        offset += len(block)
    return found


def row(support, em_min, em_max, resolution=None) -> dict:
    return {
        "frequency_support": support,
        "em_min": em_min,
        "em_max": em_max,
        "spectral_resolution": resolution,
    }


CORNERS = [
    row(SUPPORT, C / 96.94e9, C / 95.06e9, 1.0),  # exactly one window of three
    row(SUPPORT, C / 110e9, C / 95e9),  # all three inside
    row(SUPPORT, C / 96.95e9, C / 95.07e9),  # within the edge tolerance
    row(SUPPORT, C / 200e9, C / 199e9, 2.5e5),  # none inside: the range, its resolution
    row(SUPPORT, C / 200e9, C / 199e9, 0.0),  # ... a resolution of 0: no channel
    row(SUPPORT, C / 200e9, C / 199e9, None),  # ... none: no channel
    row(SUPPORT, C / 200e9, C / 199e9, math.nan),  # ... NaN, as Python's `or` keeps it
    row(SUPPORT, C / 95e9, C / 110e9),  # em_min > em_max: the range reversed
    row(SUPPORT, None, C / 95e9),  # no range: every window listed
    row(SUPPORT, 0.0, C / 95e9),
    row(SUPPORT, math.nan, C / 95e9),
    row(SUPPORT, -1.0, C / 95e9),
    row("", C / 96.94e9, C / 95.06e9, 7.0),  # no text: the range
    row("", None, None),  # nothing at all: no window
    row("[239.50..241.37GHz,976.56kHz,1.7mJy/beam@10km/...", None, None),  # cut short
    row("[239.50..241.37GHz,97", C / 241.37e9, C / 239.5e9, 3.0),
]


def test_each_rows_windows_are_the_ones_row_windows_gives():
    assert computed([CORNERS]) == expected(CORNERS)


def test_a_file_read_in_blocks_gives_every_rows_windows_once():
    rows = CORNERS * 3
    assert computed([rows[:5], rows[5:6], [], rows[6:]]) == expected(rows)


@pytest.mark.parametrize("path", [p for p in DELIMITED if not row_by_row(p)], ids=lambda p: p.name)
def test_every_real_file_gives_the_windows_of_row_windows(path):
    normalised = arrow_load.normalise(read_table(path))
    names = ("frequency_support", "em_min", "em_max", "spectral_resolution")
    rows = normalised.table.select(names).to_pylist()
    assert computed([rows]) == expected(rows)


def mirror_windows() -> Counter:
    return Counter(
        SpectralWindow.objects.values_list("observation__obs_id", "lo_ghz", "hi_ghz", "channel_hz")
    )


def rule_windows() -> Counter:
    return Counter(
        (o.obs_id, w.lo_ghz, w.hi_ghz, w.channel_hz)
        for o in Observation.objects.all()
        for w in row_windows(o.frequency_support, o.em_min, o.em_max, o.spectral_resolution)
    )


@pytest.fixture
def rebuilds(monkeypatch) -> list:
    """The calls of ``rebuild_windows`` the hierarchy makes (still made)."""
    calls: list = []
    rebuild = hierarchy.rebuild_windows

    def counted(*args, **kwargs):
        calls.append(args)
        return rebuild(*args, **kwargs)

    monkeypatch.setattr(hierarchy, "rebuild_windows", counted)
    return calls


@postgresql_only
@pytest.mark.parametrize("block_bytes", [64 << 20, 1 << 14], ids=["one block", "many blocks"])
def test_a_first_load_writes_each_rows_windows_with_it(monkeypatch, rebuilds, block_bytes):
    monkeypatch.setattr(ArrowRows, "BLOCK_BYTES", block_bytes)

    load_paths([UNION])

    assert rebuilds == []  # no second pass over the rows
    assert mirror_windows() == rule_windows() and rule_windows()


@postgresql_only
def test_rows_loaded_with_their_ids_leave_the_sequence_past_them():
    load_paths([UNION])
    top = Observation.objects.order_by("-pk").values_list("pk", flat=True)[0]

    later = Observation.objects.create(obs_id="later", proposal_id="2019.1.00001.S")

    assert later.pk > top


@postgresql_only
def test_ids_taken_while_another_writer_takes_some_are_each_rows_own(monkeypatch):
    """The sequence handing out ids that are not one range (here: every other one, as when
    another writer takes ids meanwhile): each row still gets an id of its own."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SEQUENCE {written_windows.SequenceIds().sequence} INCREMENT BY 2")
    load_paths([UNION])

    assert Observation.objects.count() == 417
    assert mirror_windows() == rule_windows()


@postgresql_only
def test_a_load_that_is_not_all_first_rows_rebuilds_the_windows(tmp_path, rebuilds):
    """A second file updating a row the first wrote (the merge): the windows are rebuilt from
    the mirror, the updated row's included."""
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    columns = HEADER + "em_min,em_max,frequency_support\n"
    old = f'a,2019.1.00001.S,u,old,1,1,3,{C / 97e9},{C / 95e9},"{SUPPORT}"\n'
    new = f'a,2019.1.00001.S,u,new,1,1,3,{C / 109e9},{C / 107e9},"{SUPPORT}"\n'
    first.write_text(columns + old)
    second.write_text(columns + new + f'b,2019.1.1.S,v,x,1,1,3,,,"{SUPPORT}"\n')

    load_paths([first, second])

    assert len(rebuilds) == 1
    assert mirror_windows() == rule_windows()
    assert {(lo, hi) for obs_id, lo, hi, _ in mirror_windows() if obs_id == "a"} == {
        (107.06, 108.94)
    }
