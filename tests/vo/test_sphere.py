"""Regions on the sphere: distances against astropy, containment across RA 0/360 and the pole,
and ALMA's STC-S footprints (circles, polygons, unions with holes) parsed as ALMA writes them."""

from __future__ import annotations

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from vo import sphere

ALMA_SHAPES = [
    "Circle ICRS 337.250736 -69.175076 0.008223",
    "Polygon ICRS 83.831185 -5.264207 83.827356 -5.260845 83.830732 -5.257032 83.834561 -5.260394",
    "Union ICRS ( Polygon 0 0 1 0 1 1 0 1 Not (Polygon 0.4 0.4 0.6 0.4 0.6 0.6 0.4 0.6) "
    "Polygon 359 0 359.5 0 359.5 0.5 )",
]


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 360), st.floats(-90, 90), st.floats(0, 360), st.floats(-90, 90))
def test_distance_agrees_with_astropy_everywhere(ra1, dec1, ra2, dec2):
    expected = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg))
    assert sphere.distance_deg(ra1, dec1, ra2, dec2) == pytest.approx(expected.deg, abs=1e-9)


def test_a_polygon_across_ra_zero_contains_its_inside_only():
    square = sphere.Polygon.from_deg([359.5, -0.5, 0.5, -0.5, 0.5, 0.5, 359.5, 0.5])
    assert square.contains_point(sphere.vec(0.0, 0.0))
    assert square.contains_point(sphere.vec(359.8, 0.2))
    assert not square.contains_point(sphere.vec(1.0, 0.0))
    assert not square.contains_point(sphere.vec(180.0, 0.0))  # the antipode is outside


def test_vertex_order_does_not_matter():
    clockwise = sphere.Polygon.from_deg([10, 10, 10, 11, 11, 11, 11, 10])
    counter = sphere.Polygon.from_deg([10, 10, 11, 10, 11, 11, 10, 11])
    for point in [(10.5, 10.5), (12, 10.5), (10.5, 9)]:
        p = sphere.vec(*point)
        assert clockwise.contains_point(p) == counter.contains_point(p)


def test_a_box_at_the_pole_holds_points_on_the_far_side_of_the_pole():
    box = sphere.box(0, 89.9, 1, 1)
    assert box.contains_point(sphere.vec(180, 89.9))  # 0.2 degrees away, over the pole
    assert not box.contains_point(sphere.vec(180, 89.0))


def test_circle_polygon_intersection_is_exact_at_the_edge():
    square = sphere.Polygon.from_deg([10, -1, 11, -1, 11, 1, 10, 1])
    # The edge RA=11 from dec -1 to 1: a circle centred 0.3 degrees east of it, radius 0.3.
    just = sphere.Circle.from_deg(11.3, 0.0, 0.3001)
    short = sphere.Circle.from_deg(11.3, 0.0, 0.2999)
    assert sphere.shapes_meet(just, square)
    assert not sphere.shapes_meet(short, square)


def test_alma_footprints_parse_and_answer():
    circle, polygon, union = (sphere.parse_stcs(s) for s in ALMA_SHAPES)
    assert circle.contains_point(sphere.vec(337.250736, -69.17))
    assert polygon.contains_point(sphere.vec(83.831, -5.2606))
    assert not polygon.contains_point(sphere.vec(83.84, -5.2606))
    assert union.contains_point(sphere.vec(0.2, 0.2))
    assert not union.contains_point(sphere.vec(0.5, 0.5))  # in the hole
    assert union.contains_point(sphere.vec(359.2, 0.1))  # the second part, across RA 0
    assert not sphere.region_meets(union, sphere.Circle.from_deg(0.5, 0.5, 0.05))  # inside the hole
    assert sphere.region_meets(union, sphere.Circle.from_deg(0.5, 0.5, 0.15))  # reaches out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty region"),
        ("Polygon ICRS 1 2 3 4", "at least three"),
        ("Circle ICRS 1 2", "Circle takes ra dec radius"),
        ("Ellipse ICRS 1 2 3 4 5", "unknown shape"),
        ("Union ICRS ( Polygon 0 0 1 0 1 1", "ends too early"),
        ("Not (Circle ICRS 1 2 3)", "nothing to cut"),
    ],
)
def test_broken_regions_are_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message):
        sphere.parse_stcs(text)
