"""The target list's cone join selects exactly what the Position kind's cone filter selects,
across RA 0/360 and near a pole; labels follow the same test."""

from __future__ import annotations

import pytest

from queries import syntax
from queries.filters import cone_q
from queries.models import Observation
from targets.selectors import cones_q, target_labels
from tests.factories import ObservationFactory

pytestmark = pytest.mark.django_db

CONES = [
    syntax.Cone(40.67, -0.01, 0.01),
    syntax.Cone(0.0, 10.0, 0.01),  # straddles RA 0/360
    syntax.Cone(100.0, 89.98, 0.05),  # near the pole: every RA
    syntax.Cone(120.0, -30.0, 0.5),  # nothing there
]


def test_the_cone_join_selects_what_the_or_of_cone_filters_selects():
    for ra, dec in ((40.669, -0.0133), (359.999, 10), (0.001, 10), (83.8, -5.39), (10, 89.99)):
        ObservationFactory(s_ra=ra, s_dec=dec)
    ObservationFactory(s_ra=40.7, s_dec=-0.01, s_fov=0.1)  # only its footprint reaches the cone
    expected = Observation.objects.filter(
        cone_q(CONES[0]) | cone_q(CONES[1]) | cone_q(CONES[2]) | cone_q(CONES[3])
    )
    joined = Observation.objects.filter(cones_q(CONES))
    assert set(joined.values_list("obs_id", flat=True)) == set(
        expected.values_list("obs_id", flat=True)
    )
    assert joined.count() == 5


def test_labels_name_every_cone_a_row_lies_in():
    node = syntax.AnyPosition(tuple(CONES[:2]))
    node = type("Node", (), {"alternatives": node.alternatives, "labels": ("a", "b")})()
    labels = target_labels(
        node, [("in a", 40.669, -0.0133, 0.0), ("wide", 40.7, -0.01, 0.1), ("none", 83.8, 5, 0)]
    )
    assert labels == {"in a": "a", "wide": "a"}


def test_labels_agree_with_the_cone_test_row_by_row_across_the_sky():
    """The labels' declination windows never drop a hit nor add one: every (row, cone) pair
    checked with ``cone_q``'s rule (centre within radius + s_fov/2), one by one."""
    import math
    import random

    from queries.units import unit_vector

    rng = random.Random(3)
    cones = [
        syntax.Cone(rng.uniform(0, 360), rng.uniform(-89.9, 89.9), rng.choice([0.001, 0.05, 2]))
        for _ in range(200)
    ]
    cones += [syntax.Cone(0.0, 89.95, 0.1), syntax.Cone(359.99, 0.0, 0.02)]
    rows = [
        (f"near {n}", c.ra + rng.uniform(-1, 1) * c.radius, c.dec, rng.choice([None, 0.0, 0.3]))
        for n, c in enumerate(cones)
    ]
    rows += [(f"any {n}", rng.uniform(0, 360), rng.uniform(-90, 90), 0.2) for n in range(3000)]
    rows += [("pole", 180.0, 90.0, 0.0), ("wrap", 0.005, 0.0, 0.0), ("no position", None, 1.0, 0)]
    node = type(
        "Node",
        (),
        {"alternatives": tuple(cones), "labels": tuple(f"c{n}" for n in range(len(cones)))},
    )()

    expected = {}
    for obs_id, ra, dec, fov in rows:
        if ra is None:
            continue
        row = unit_vector(ra, dec)
        hits = [
            f"c{n}"
            for n, c in enumerate(cones)
            if sum(a * b for a, b in zip(row, unit_vector(c.ra, c.dec), strict=True))
            >= math.cos(math.radians(c.radius + (fov or 0.0) / 2)) - 1e-12
        ]
        if hits:
            expected[obs_id] = "; ".join(hits)
    assert len(expected) > 200
    assert target_labels(node, rows) == expected
