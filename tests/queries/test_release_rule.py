"""One release rule: "public data only", the project view and downloads agree at every instant.

The search's public flag (``public_data=yes``), the project view's public/proprietary status and
the download decision for an ordinary member are computed for every row of the bundled sample
archive at instants before any release, between two releases, exactly at release instants and
after every release, with the portal clock frozen; they must agree row by row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Q

from archiveportal import clock
from downloads import access
from queries import selectors
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import PLACEHOLDER_RELEASE, MemberOUS, Observation
from tests.factories import MemberOUSFactory, ObservationFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

DISAGREEING_RELEASE = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def archive(sample):
    """The sample plus rows of one member OUS that disagree; returns the observation count."""
    # Rows of one member OUS that disagree, as ALMA's sometimes do: the member OUS keeps the
    # latest date, and a row's own earlier date must not make it "public" in the search.
    project = ProjectFactory(code="2030.1.00001.S")
    mous = MemberOUSFactory(
        uid="uid://A001/X3030/X1", project=project, release_date=DISAGREEING_RELEASE
    )
    for index, release in enumerate(
        [DISAGREEING_RELEASE - timedelta(days=90), DISAGREEING_RELEASE]
    ):
        ObservationFactory(
            member_ous=mous,
            obs_id=f"uid://A001/X3030/X1.source.T.spw.{index}",
            obs_release_date=release,
            data_rights="Public",
        )
    return Observation.objects.count()


def _instants() -> dict[str, datetime]:
    dates = sorted(
        {
            d
            for d in MemberOUS.objects.exclude(release_date=None).values_list(
                "release_date", flat=True
            )
            if d < PLACEHOLDER_RELEASE
        }
    )
    assert len(dates) >= 3, "the sample must hold several release instants"
    middle = len(dates) // 2
    return {
        "before any release": dates[0] - timedelta(seconds=1),
        "at the first release": dates[0],
        "between releases": dates[middle - 1] + (dates[middle] - dates[middle - 1]) / 2,
        "at a middle release": dates[middle],
        "one second before the disagreeing release": DISAGREEING_RELEASE - timedelta(seconds=1),
        "between the disagreeing rows' dates": DISAGREEING_RELEASE - timedelta(days=30),
        "at the disagreeing release": DISAGREEING_RELEASE,
        "at the last release": dates[-1],
        "after every release": dates[-1] + timedelta(days=1),
    }


def _public_in_search() -> set[str]:
    q = observation_filter(parse_form({"public_data": "yes"}))
    return set(Observation.objects.filter(q).values_list("obs_id", flat=True))


def test_the_searchs_public_flag_and_the_download_decision_agree_for_every_row(archive):
    member = UserFactory(username="release_rule_member")
    rows = list(Observation.objects.values_list("obs_id", "member_ous__uid"))
    assert len(rows) == archive > 400
    mouses = list(MemberOUS.objects.select_related("project"))
    for label, instant in _instants().items():
        with clock.frozen(instant):
            public = _public_in_search()
            decisions = access.decide_many(member, mouses, surface="test")
        allowed = {uid for uid, d in decisions.items() if d.allowed}
        disagreements = [
            (obs_id, uid)
            for obs_id, uid in rows
            if (obs_id in public) != (uid is not None and uid in allowed)
        ]
        assert not disagreements, f"{label}: {len(disagreements)} rows, e.g. {disagreements[:3]}"
        assert public != set() or label.startswith("before"), label


def test_the_project_views_status_agrees_with_the_download_decision(archive):
    member = UserFactory(username="release_rule_member")
    for label, instant in _instants().items():
        with clock.frozen(instant):
            rows, _ = selectors.projects_page(Q(), sort="code", page=1, size=10_000)
            mouses = list(MemberOUS.objects.select_related("project"))
            decisions = access.decide_many(member, mouses, surface="test")
        by_project: dict[str, list[bool]] = {}
        for mous in mouses:
            by_project.setdefault(mous.project.code, []).append(decisions[mous.uid].allowed)
        for row in rows:
            allowed = by_project[row.code]
            expected = "public" if all(allowed) else "proprietary" if not any(allowed) else "mixed"
            assert row.status == expected, (label, row.code)


def test_the_model_and_queryset_methods_are_one_rule(archive):
    for instant in _instants().values():
        with clock.frozen(instant):
            by_query = set(MemberOUS.objects.released().values_list("uid", flat=True))
            unreleased = set(MemberOUS.objects.unreleased().values_list("uid", flat=True))
            annotated = dict(
                MemberOUS.objects.with_release_passed().values_list("uid", "release_passed")
            )
            by_method = {m.uid for m in MemberOUS.objects.all() if m.is_released()}
        assert by_query == by_method == {uid for uid, passed in annotated.items() if passed}
        assert not by_query & unreleased
        assert by_query | unreleased == set(annotated)


def test_released_exactly_at_the_instant_and_never_with_a_placeholder_or_no_date():
    instant = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert MemberOUS(release_date=instant).is_released(instant)
    assert not MemberOUS(release_date=instant).is_released(instant - timedelta(microseconds=1))
    assert not MemberOUS(release_date=None).is_released(instant)
    assert not MemberOUS(release_date=PLACEHOLDER_RELEASE).is_released(
        PLACEHOLDER_RELEASE + timedelta(days=1)
    )
    with clock.frozen(instant):
        assert MemberOUS(release_date=instant).is_released()
    with clock.frozen(instant - timedelta(seconds=1)):
        assert not MemberOUS(release_date=instant).is_released()


def test_the_project_view_reads_the_portal_clock():
    instant = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    its = Q(
        proposal_id=ObservationFactory(
            member_ous=MemberOUSFactory(release_date=instant)
        ).proposal_id
    )
    with clock.frozen(instant - timedelta(seconds=1)):
        rows, _ = selectors.projects_page(its, sort="code", page=1, size=50)
    assert [r.status for r in rows] == ["proprietary"]
    with clock.frozen(instant):
        rows, _ = selectors.projects_page(its, sort="code", page=1, size=50)
    assert [r.status for r in rows] == ["public"]


def test_delegation_pages_read_the_portal_clock():
    from downloads import delegations
    from downloads.models import Delegation

    pi, delegate = UserFactory(username="rr_pi"), UserFactory(username="rr_delegate")
    end = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    delegation = Delegation.objects.create(pi=pi, delegate=delegate, project=None, expires_at=end)
    with clock.frozen(end - timedelta(seconds=1)):
        assert delegations.status(delegation) == "active"
        assert list(delegations.held_by(delegate)) == [delegation]
    with clock.frozen(end):
        assert delegations.status(delegation) == "expired"
        assert list(delegations.held_by(delegate)) == []
