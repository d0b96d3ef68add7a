"""The server-side sky plot: every row's footprint drawn and tied to its row, on a grid in the
right projection; holes cut, bad regions still marked, every text escaped."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from queries.sky import Footprint, render
from tests.archive_replay import OBSCORE_UNION


def real_footprints(limit: int | None = None, **match: str) -> list[Footprint]:
    with OBSCORE_UNION.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if all(r[k] == v for k, v in match.items())]
    return [
        Footprint(r["obs_id"], r["target_name"], r["s_region"], float(r["s_ra"]), float(r["s_dec"]))
        for r in rows[:limit]
    ]


def paths(svg: str) -> dict[str, str]:
    return dict(re.findall(r'<path class="sky-footprint" data-row="([^"]+)" d="([^"]*)"', svg))


def test_each_row_of_one_field_has_its_outline_in_a_gnomonic_plot():
    rows = real_footprints(proposal_id="2017.1.00079.S")
    assert len(rows) > 3
    svg = str(render(rows, max_footprints=500))
    assert 'data-projection="TAN"' in svg
    drawn = paths(svg)
    assert set(drawn) == {r.key for r in rows}
    for row in rows:
        numbers = np.array(re.findall(r"-?\d+\.\d", drawn[row.key]), dtype=float).reshape(-1, 2)
        # Inside the picture, and not collapsed to a point.
        assert (numbers[:, 0] >= 0).all() and (numbers[:, 0] <= 480).all()
        assert np.ptp(numbers[:, 0]) > 0 and np.ptp(numbers[:, 1]) > 0


def test_rows_all_over_the_sky_are_drawn_on_the_whole_sky():
    rows = real_footprints()
    spread = [rows[0], *[r for r in rows if abs(r.ra - rows[0].ra) > 90][:3]]
    svg = str(render(spread, max_footprints=500))
    assert 'data-projection="AIT"' in svg
    assert set(paths(svg)) == {r.key for r in spread}


def test_a_union_with_a_hole_is_one_path_of_several_rings():
    region = (
        "Union ICRS ( Polygon 10.0 -1.0 10.1 -1.0 10.1 -0.9 10.0 -0.9 "
        "Not (Polygon 10.04 -0.96 10.06 -0.96 10.06 -0.94 10.04 -0.94) "
        "Circle 10.2 -0.95 0.02 )"
    )
    svg = str(render([Footprint("a", "A", region, 10.1, -0.95)], max_footprints=10))
    assert paths(svg)["a"].count("M") == 3
    assert 'fill-rule="evenodd"' in svg


def test_above_the_limit_only_the_centres_are_drawn():
    rows = real_footprints(limit=20)
    svg = str(render(rows, max_footprints=5))
    assert not paths(svg)
    assert len(re.findall(r'<circle class="sky-centre" data-row=', svg)) == 20
    assert "outlines omitted" in svg


def test_a_row_without_a_readable_region_is_still_marked_at_its_centre():
    svg = str(render([Footprint("x", "X", "Blob 1 2", 150.0, 2.0)], max_footprints=5))
    assert "x" in paths(svg)


def test_labels_and_keys_are_escaped():
    svg = str(
        render(
            [Footprint('k"><script>', "<script>alert(1)</script>", "Circle ICRS 1 1 0.01", 1, 1)],
            max_footprints=5,
        )
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


@pytest.mark.parametrize("dec", [-89.9, 0.0, 89.9])
def test_a_field_near_a_pole_or_the_equator_gets_a_grid(dec):
    svg = str(
        render([Footprint("p", "P", f"Circle ICRS 30 {dec} 0.01", 30, dec)], max_footprints=5)
    )
    assert svg.count('class="sky-grid"') >= 2


def test_a_field_too_small_to_see_on_the_whole_sky_is_ringed_so_it_can_be_found():
    far_apart = [
        Footprint("a", "A", "Circle ICRS 10 -30 0.003", 10, -30),
        Footprint("b", "B", "Circle ICRS 200 40 0.003", 200, 40),
    ]
    svg = str(render(far_apart, max_footprints=5))
    assert 'data-projection="AIT"' in svg
    for path in paths(svg).values():
        # The field's own outline, then a ring of MIN_MARK_PX around its centre.
        assert path.count("M") == 2 and " a2.5,2.5 0 1,0 5,0 " in path
