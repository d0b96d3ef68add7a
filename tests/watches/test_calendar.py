"""The release calendar: coming, dated releases of the member's own projects, delegations and
watched searches, on a page and in a secret iCal feed whose events move when a release does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from icalendar import Calendar

from archiveportal import clock
from downloads.models import Delegation, ProjectPI
from harvest.models import ChangeKind
from tests.factories import (
    MemberOUSFactory,
    ObservationFactory,
    ProjectFactory,
    SavedSearchFactory,
    UserFactory,
)
from tests.watches.conftest import record
from watches import services
from watches.selectors import upcoming_releases

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SOON = datetime(2027, 3, 1, tzinfo=UTC)


@pytest.fixture
def member():
    return UserFactory()


def coming(project, *, release=SOON, band="6"):
    mous = MemberOUSFactory(project=project, release_date=release, data_rights="Proprietary")
    ObservationFactory(member_ous=mous, band_list=band)
    return mous


def listed(user) -> dict[str, list[str]]:
    with clock.frozen(NOW):
        return {g.project.code: [r.mous.uid for r in g.releases] for g in upcoming_releases(user)}


def test_own_delegated_and_watched_releases_are_listed_others_are_not(member):
    own, delegated, watched, unrelated = (ProjectFactory() for _ in range(4))
    ProjectPI.objects.create(project=own, user=member)
    pi = UserFactory()
    ProjectPI.objects.create(project=delegated, user=pi)
    Delegation.objects.create(pi=pi, delegate=member, project=delegated)
    mouses = {p.code: coming(p, band="3") for p in (own, delegated, unrelated)}
    mouses[watched.code] = coming(watched, band="6")
    saved = SavedSearchFactory(owner=member, params={"band_list": "6"})
    services.watch(user=member, saved=saved, frequency="weekly")

    assert listed(member) == {
        code: [mouses[code].uid] for code in (own.code, delegated.code, watched.code)
    }


def test_past_and_undated_releases_are_not_in_the_calendar(member):
    project = ProjectFactory()
    ProjectPI.objects.create(project=project, user=member)
    coming(project, release=NOW - timedelta(seconds=1))
    coming(project, release=datetime(3000, 1, 1, tzinfo=UTC))  # ALMA's "not set yet"
    coming(project, release=None)
    assert listed(member) == {}


def test_a_revoked_delegation_takes_its_releases_away(member):
    project, pi = ProjectFactory(), UserFactory()
    ProjectPI.objects.create(project=project, user=pi)
    delegation = Delegation.objects.create(pi=pi, delegate=member, project=project)
    coming(project)
    assert project.code in listed(member)
    delegation.revoked_at = NOW - timedelta(days=1)
    delegation.save()
    assert listed(member) == {}


def test_the_page_groups_releases_per_project(client, member):
    project = ProjectFactory(code="2026.1.00042.S")
    ProjectPI.objects.create(project=project, user=member)
    first, second = coming(project), coming(project, release=SOON + timedelta(days=30))
    client.force_login(member)
    with clock.frozen(NOW):
        page = client.get(reverse("watches:calendar")).text
    assert page.count("2026.1.00042.S</a>") == 1
    assert page.index(first.uid) < page.index(second.uid)
    assert "your project (PI)" in page


def feed_url_of(client) -> str:
    page = client.post(reverse("watches:feed-create")).text
    start = page.index('value="http') + len('value="')
    return page[start : page.index('"', start)]


def events(client, url) -> dict[str, object]:
    answer = client.get(url)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/calendar")
    return {str(e["uid"]): e for e in Calendar.from_ical(answer.content).walk("VEVENT")}


def test_the_feed_works_without_a_login_and_a_moved_release_moves_its_event(client, member):
    project = ProjectFactory()
    ProjectPI.objects.create(project=project, user=member)
    mous = coming(project)
    client.force_login(member)
    url = feed_url_of(client)
    client.logout()  # a calendar program has no session
    with clock.frozen(NOW):
        ((uid, event),) = events(client, url).items()
    assert event["dtstart"].dt == SOON.date()
    assert project.code in str(event["summary"]) and mous.uid in str(event["description"])

    moved = SOON + timedelta(days=90)
    mous.release_date = moved
    mous.save()
    record(mous.observations.first(), ChangeKind.RELEASE_MOVED, old=SOON, new=moved)
    with clock.frozen(NOW):
        ((same_uid, event),) = events(client, url).items()
    assert same_uid == uid and event["dtstart"].dt == moved.date() and event["sequence"] == 1


def test_a_new_address_revokes_the_old_one_and_stopping_ends_both(client, member):
    client.force_login(member)
    old = feed_url_of(client)
    new = feed_url_of(client)
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    client.post(reverse("watches:feed-stop"))
    assert client.get(new).status_code == 404


def test_the_feed_address_is_not_stored(client, member):
    client.force_login(member)
    url = feed_url_of(client)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in str(list(member.calendar_feed.__dict__.values()))


def test_a_deactivated_members_feed_stops(client, member):
    client.force_login(member)
    url = feed_url_of(client)
    member.is_active = False
    member.save()
    assert client.get(url).status_code == 404
