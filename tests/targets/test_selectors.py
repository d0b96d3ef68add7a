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
