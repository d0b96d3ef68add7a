"""The proprietary-period rule, decided in one place, across roles and data states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from archiveportal import clock
from downloads import access
from downloads.models import AccessDecision, Delegation, ProjectPI
from tests.downloads.access_matrix import (
    NOW,
    ROLES,
    STATES,
    build_world,
    expected_allowed,
)
from tests.factories import MemberOUSFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
CELLS = [(role, state) for role in ROLES for state in STATES]


@pytest.fixture
def world():
    with clock.frozen(NOW):
        yield build_world()


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_decide_follows_the_matrix(world, role, state):
    with clock.frozen(NOW):
        decision = access.decide(world.user(role), world.mouses[state], surface="test")
    assert decision.allowed is expected_allowed(role, state)


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_downloadable_files_are_empty_when_denied(world, role, state):
    with clock.frozen(NOW):
        decision, files = access.downloadable_files(
            world.user(role), world.mouses[state], surface="test"
        )
    names = list(files.values_list("name", flat=True))
    if expected_allowed(role, state):
        assert names == [world.files[state].name]
    else:
        assert names == []
        assert world.files[state].name not in decision.message
        assert str(world.files[state].size) not in decision.message


@pytest.mark.parametrize("role", ROLES)
def test_decide_many_agrees_with_decide(world, role):
    with clock.frozen(NOW):
        many = access.decide_many(world.user(role), world.mouses.values(), surface="test")
        for state, mous in world.mouses.items():
            assert many[mous.uid].allowed is expected_allowed(role, state)


def test_release_happens_at_the_stored_instant_with_no_grace(world):
    mous = world.mouses["released_in_one_second"]
    member = world.users["member"]
    with clock.frozen(NOW):
        assert not access.decide(member, mous, surface="test").allowed
    with clock.frozen(mous.release_date - timedelta(microseconds=1)):
        assert not access.decide(member, mous, surface="test").allowed
    with clock.frozen(mous.release_date):
        assert access.decide(member, mous, surface="test").allowed


def test_a_public_mark_with_a_future_date_is_not_trusted(world):
    mous = world.mouses["proprietary"]
    mous.data_rights = "Public"
    mous.save()
    with clock.frozen(NOW):
        assert not access.decide(world.users["member"], mous, surface="test").allowed


def test_the_denial_says_until_when_and_whom_to_ask(world):
    with clock.frozen(NOW):
        decision = access.decide(world.users["member"], world.mouses["proprietary"], surface="test")
        placeholder = access.decide(
            world.users["member"], world.mouses["placeholder"], surface="test"
        )
    assert decision.message.startswith("Proprietary until 2027-01-01")
    assert "ask the PI (Matrix, Pi) for delegation" in decision.message
    assert "has not set yet" in placeholder.message


def test_decisions_about_proprietary_data_are_logged_and_public_ones_are_not(world):
    with clock.frozen(NOW):
        access.decide(world.users["member"], world.mouses["proprietary"], surface="page")
        access.decide(world.users["pi"], world.mouses["proprietary"], surface="script")
        access.decide(world.users["member"], world.mouses["public"], surface="page")
    log = list(AccessDecision.objects.order_by("at", "pk"))
    assert [(e.user.username, e.granted, e.rule, e.surface) for e in log] == [
        ("matrix_member", False, "proprietary", "page"),
        ("matrix_pi", True, "pi", "script"),
    ]
    assert log[0].release_date_seen == world.mouses["proprietary"].release_date
    assert log[0].member_ous_uid == world.mouses["proprietary"].uid


def test_a_delegation_for_all_projects_covers_every_project_of_the_pi(world):
    other_project = ProjectFactory(code="2025.1.00778.S", pi_userid="matrix_pi")
    mous = MemberOUSFactory(project=other_project, release_date=NOW + timedelta(days=30))
    friend = UserFactory(username="friend")
    Delegation.objects.create(pi=world.users["pi"], delegate=friend, project=None)
    with clock.frozen(NOW):
        assert access.decide(friend, mous, surface="test").allowed
        assert access.decide(friend, world.mouses["proprietary"], surface="test").allowed


def test_a_delegation_from_someone_who_is_not_the_pi_grants_nothing(world):
    impostor = world.users["member"]
    friend = UserFactory(username="friend2")
    Delegation.objects.create(pi=impostor, delegate=friend, project=world.project)
    with clock.frozen(NOW):
        assert not access.decide(friend, world.mouses["proprietary"], surface="test").allowed


def test_an_admin_statement_makes_a_member_pi_of_a_project(world):
    project = ProjectFactory(code="2016.1.00001.S", pi_userid="", pi_name="Someone, Else")
    mous = MemberOUSFactory(project=project, release_date=timezone.now() + timedelta(days=9))
    member = world.users["member"]
    assert not access.decide(member, mous, surface="test").allowed
    ProjectPI.objects.create(project=project, user=member)
    assert access.decide(member, mous, surface="test").allowed
