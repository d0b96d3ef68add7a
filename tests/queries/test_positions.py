"""``ObservedPosition`` (issue 13, target 2): it stays what the observations say after every path
that writes them (the loader and the live search's upserts through the sample, ``synth_archive``,
the harvest's first load, incremental run and full sweep), and a project view read from it lists
the same projects, member OUSs, sources and counts as one read from the observations: on the
sample, and on rows placed where a cone test can go wrong (zone borders, the pole, RA 0/360, a
position whose widest footprint alone reaches the cone, rows without a footprint or member OUS).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from queries import positions, selectors, tables
from queries.archive.loader import upsert_observations
from queries.fields import parse_form
from queries.filters import forget_max_fov, observation_filter
from queries.hierarchy import rebuild_hierarchy
from queries.models import Observation, ObservedPosition, Project
from queries.synth import synthesize_archive
from tests.archive_replay import ReplayServer, load_obscore_union
from tests.factories import MemberOUSFactory, ObservationFactory, ProjectFactory

NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEY = ("target_name", "band_mask", "s_ra", "s_dec", "s_x", "s_y", "s_z")


def _expected() -> Counter:
    """The rows' reduction computed here, in Python: per (project, member OUS, code, key), the
    widest footprint (None when no row has one)."""
    widest: dict[tuple, float | None] = {}
    rows = Observation.objects.filter(project__isnull=False).values_list(
        "project_id", "member_ous_id", "project__code", *KEY, "s_fov"
    )
    for *key, fov in rows:
        key = tuple(key)
        known = widest.get(key)
        widest[key] = fov if known is None else known if fov is None else max(known, fov)
    return Counter((*key, fov) for key, fov in widest.items())


def _stored() -> Counter:
    return Counter(
        ObservedPosition.objects.values_list(
            "project_id", "member_ous_id", "code", *KEY, "s_fov"
        ).iterator()
    )


def _assert_in_step() -> None:
    stored, expected = _stored(), _expected()
    assert stored == expected, (stored - expected, expected - stored)


# --- the table after each writer ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_sample_load_and_live_upserts_keep_the_positions(sample):
    """``load_sample`` goes through ``load_paths`` and ``upsert_observations``; then the live
    search's upsert moves a row, adds one and gives a footprint to another."""
    _assert_in_step()
    assert ObservedPosition.objects.count() < Observation.objects.count()  # it deduplicates
    row = Observation.objects.order_by("obs_id").first()
    columns = ("obs_id", "proposal_id", "member_ous_uid", "target_name", "band_list")
    moved = dict(zip(columns, [getattr(row, c) for c in columns], strict=True))
    upsert_observations(
        [
            {**moved, "s_ra": 10.0, "s_dec": -30.0, "s_fov": 0.02},
            {**moved, "obs_id": moved["obs_id"] + ".new", "s_ra": 10.5, "s_dec": -30.0},
        ],
        source="test:live",
    )
    assert Observation.objects.filter(s_ra=10.0, proposal_id=row.proposal_id).exists()
    _assert_in_step()


@pytest.mark.django_db
def test_a_long_list_of_projects_is_refreshed_whole(sample, monkeypatch):
    """Off PostgreSQL the codes go a part at a time (bound parameters are limited)."""
    monkeypatch.setattr(positions, "CHUNK", 2)
    ObservedPosition.objects.all().delete()
    positions.refresh_positions(sorted(Project.objects.values_list("code", flat=True)))
    _assert_in_step()


@pytest.mark.django_db
def test_synth_archive_keeps_the_positions():
    synthesize_archive(600, seed=4, now=NOW, replace=True)  # the sample's synthetic rows go
    _assert_in_step()
    assert ObservedPosition.objects.exists()
    synthesize_archive(300, seed=5, now=NOW, replace=True)  # the old projects' positions go
    _assert_in_step()


@pytest.mark.django_db(transaction=True)
def test_the_harvest_keeps_the_positions(harvest_settings):
    harvest_settings.HARVEST_MAX_REMOVED_FRACTION = 0.5  # the sweep below removes a project
    with ReplayServer() as upstream:
        upstream.obscore = load_obscore_union()
        call_command("harvest_archive", "--archive-url", upstream.url)  # a first load
        _assert_in_step()
        assert ObservedPosition.objects.exists()
        # Upstream, a row moves and every row of the smallest project goes.
        latest = max(datetime.fromisoformat(r["lastModified"]) for r in upstream.obscore)
        first = upstream.obscore[0]
        first["s_ra"] = str((float(first["s_ra"]) + 1.0) % 360)
        first["lastModified"] = (latest + timedelta(days=1)).isoformat(timespec="milliseconds")
        sizes = Counter(r["proposal_id"] for r in upstream.obscore)
        gone = min(sizes, key=lambda code: (sizes[code], code))
        upstream.obscore[:] = [r for r in upstream.obscore if r["proposal_id"] != gone]
        call_command("harvest_archive", "--archive-url", upstream.url)
        _assert_in_step()
        call_command("harvest_archive", "--archive-url", upstream.url, "--full")
        assert not Observation.objects.filter(proposal_id=gone).exists()
        assert not ObservedPosition.objects.filter(code=gone).exists()
        _assert_in_step()


# --- the project view read both ways ------------------------------------------------------------


def _both_ways(params: dict[str, str], *, size: int, descending: bool = False) -> list:
    """Every page of the project view of ``params`` read from the observations and from the
    positions: (rows, page) pairs, which must be equal."""
    parsed = parse_form(params)
    known = tables.known_matches(parsed)
    # The positions answer it on PostgreSQL (elsewhere both reads are the observations').
    assert (known is not None) == (connection.vendor == "postgresql")
    q = observation_filter(parsed)
    sort = "-code" if descending else "code"
    pages = []
    number = 1
    while True:
        plain = selectors.projects_page(q, sort=sort, page=number, size=size, now=NOW)
        fresh = tables.known_matches(parse_form(params))  # a KnownMatches serves one page
        read = selectors.projects_page(q, sort=sort, page=number, size=size, now=NOW, known=fresh)
        assert read == plain, (params, number)
        pages.append(read)
        if not plain[1].has_next:
            return pages
        number += 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"ra_dec": "204.25 -29.87, 0.3"},
        {"ra_dec": "204.25 -29.87, 0.3", "band_list": "3"},
        {"ra_dec": "204.25 -29.87, 0.3", "band_list": "!3"},
        {"ra_dec": "204.25 -29.87, 0.3 | 40.67 -0.013, 0.1"},
        {"ra_dec": "0 0, 180"},
        {"galactic": "314.58 31.97, 1"},
    ],
)
def test_the_sample_project_view_is_the_same_read_from_positions(sample, params):
    pages = _both_ways(params, size=3)
    assert pages[0][1].total > 1
    _both_ways(params, size=50, descending=True)


def test_only_cones_and_bands_are_read_from_positions(db):
    cone = tables.known_matches(parse_form({"ra_dec": "10 20, 1", "band_list": "3"}))
    assert (cone is not None) == (connection.vendor == "postgresql")
    for params in (
        {"band_list": "6"},  # the project summaries answer it
        {"ra_dec": "10..20 -5..5"},  # a range: the observations' declination index
        {"galactic": "10..20 -5..5"},
        {"ra_dec": "10 20, 1", "frequency": "230..250"},
        {"ra_dec": "10 20, 1 | 10..20 -5..5"},
    ):
        assert tables.known_matches(parse_form(params)) is None, params


@pytest.fixture
def edge_rows(db):
    """Rows where a cone test can go wrong, in projects of their own (codes E.0..., so the
    pages' order is known), linked by ``rebuild_hierarchy`` as a load links them."""
    placed = [
        # (project, member OUS, s_ra, s_dec, s_fov, band, target)
        ("E.01", "a", 120.0, -5.5, 0.01, "3", "on a zone border"),
        ("E.01", "a", 120.0, -5.5, 0.01, "6", "on a zone border"),
        ("E.02", "b", 120.0, -5.5000001, None, "3", "just below it"),
        ("E.03", "c", 120.0, 0.0, 0.02, "7", "on the equator"),
        ("E.04", "d", 45.0, 89.99, 0.01, "3", "near the pole"),
        ("E.05", "e", 225.0, 89.95, 0.01, "3", "across the pole"),
        ("E.06", "f", 0.0, 90.0, 0.01, "3", "the pole"),
        ("E.07", "g", 359.995, 10.0, 0.01, "3", "west of RA 0"),
        ("E.08", "h", 0.005, 10.0, 0.01, "3", "east of RA 0"),
        ("E.08", "h2", 359.9999, 10.0, None, "6", "on RA 360"),
        # One position, footprints 0.02 and 0.3 deg: 0.15 deg from the centre of a 0.02 deg
        # cone only the widest reaches it (0.02 + 0.15 >= 0.15 > 0.02 + 0.01).
        ("E.09", "i", 200.0, 30.15, 0.02, "3", "narrow"),
        ("E.09", "i", 200.0, 30.15, 0.3, "3", "narrow"),
        ("E.10", "j", 200.0, 30.15, 0.02, "3", "narrow only"),
        ("E.11", None, 200.0, 30.0, 0.01, "3", "no member OUS"),
        ("E.12", "k", None, None, None, "3", "no position"),
    ]
    for n, (code, uid, ra, dec, fov, band, target) in enumerate(placed):
        project = ProjectFactory(code=code)
        mous = MemberOUSFactory(uid=f"uid://E/{uid}", project=project) if uid else None
        unlinked = {} if mous else {"obs_release_date": NOW, "obs_title": "", "pi_name": ""}
        ObservationFactory(
            obs_id=f"uid://E/obs{n}",
            project=project,
            proposal_id=code,
            member_ous=mous,
            member_ous_uid=mous.uid if mous else "",
            data_rights="Public",
            proposal_abstract="",
            **unlinked,
            s_ra=ra,
            s_dec=dec,
            s_fov=fov,
            band_list=band,
            target_name=target,
        )
    rebuild_hierarchy(sorted({p[0] for p in placed}))
    forget_max_fov()  # the cone's padding is the widest footprint: these rows'
    _assert_in_step()
    yield
    forget_max_fov()


def _codes(params: dict[str, str]) -> list[str]:
    rows = [row for rows, _ in _both_ways(params, size=2) for row in rows]
    return [row.code for row in rows]


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"ra_dec": "120 -5.6, 0.1"}, ["E.01", "E.02"]),  # a cone across zones -12 and -11
        ({"ra_dec": "120 -5.6, 0.1", "band_list": "6"}, ["E.01"]),
        ({"ra_dec": "120 0.05, 0.045"}, ["E.03"]),
        ({"ra_dec": "0 90, 0.06"}, ["E.04", "E.05", "E.06"]),
        ({"ra_dec": "300 89.98, 0.02"}, ["E.04", "E.06"]),
        ({"ra_dec": "0 10, 0.01"}, ["E.07", "E.08"]),
        ({"ra_dec": "359.997 10, 0.002"}, ["E.07"]),
        ({"ra_dec": "0.003 10, 0.002"}, ["E.08"]),
        ({"ra_dec": "200 30, 0.02"}, ["E.09", "E.11"]),
        ({"ra_dec": "200 30.15, 0.001"}, ["E.09", "E.10"]),
    ],
)
def test_edge_rows_give_the_same_project_view_both_ways(edge_rows, params, codes):
    assert _codes(params) == codes


def test_sources_count_the_rows_of_member_ouses_both_ways(edge_rows):
    (rows, _), *_ = _both_ways({"ra_dec": "200 30, 0.02"}, size=10)
    assert [(r.code, r.n_mous, r.n_sources) for r in rows] == [("E.09", 1, 1), ("E.11", 0, 0)]
