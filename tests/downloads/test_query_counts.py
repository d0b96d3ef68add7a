"""No N+1 on the download side: the access decider, the request tree page, request preparation,
the script and the basket's "tick all results" offer run the same number of SQL queries for a
few member OUSs as for many.

Each world mixes what makes the code branch: public and proprietary member OUSs, projects the
member leads (as PI), holds by delegation or neither, science goals with an empty placeholder
group OUS, files in several categories and execution blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext

from archiveportal import clock
from downloads import access, basket, tree
from downloads import services as request_service
from downloads.models import AlmaIdentity, Delegation, DownloadRequest
from queries.models import (
    ArchiveFile,
    ExecutionBlock,
    FileCategory,
    GroupOUS,
    MemberOUS,
    ScienceGoal,
)
from tests.factories import MemberOUSFactory, ObservationFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SMALL, LARGE = 3, 24


@pytest.fixture
def people():
    pi = UserFactory(username="count_pi")
    AlmaIdentity.objects.create(user=pi, alma_userid="count_pi")
    other_pi = UserFactory(username="count_other_pi")
    AlmaIdentity.objects.create(user=other_pi, alma_userid="count_other_pi")
    delegate = UserFactory(username="count_delegate")
    Delegation.objects.create(pi=other_pi, delegate=delegate)  # all of other_pi's projects
    return {"pi": pi, "delegate": delegate, "member": UserFactory(username="count_member")}


def build(tag: str, n: int) -> list[str]:
    """``n`` member OUSs over several projects (of both PIs), their uids in tree order."""
    uids = []
    for i in range(n):
        project = ProjectFactory(
            code=f"2030.1.{tag}{i // 3:03d}.S",
            pi_userid="count_pi" if i % 2 else "count_other_pi",
        )
        goal, _ = ScienceGoal.objects.get_or_create(project=project, uid=f"{project.code}/goal")
        group, _ = GroupOUS.objects.get_or_create(
            uid=f"uid://A001/X{tag}/g{i // 3}", project=project, science_goal=goal
        )
        GroupOUS.objects.get_or_create(
            uid=f"uid://A001/X{tag}/empty{i // 3}", project=project, science_goal=goal
        )
        mous = MemberOUSFactory(
            uid=f"uid://A001/X{tag}/m{i}",
            project=project,
            group_ous=group,
            release_date=NOW + timedelta(days=30) if i % 3 else NOW - timedelta(days=30),
            data_rights="Proprietary" if i % 3 else "Public",
        )
        ExecutionBlock.objects.create(asdm_uid=f"uid://A002/X{tag}/e{i}", member_ous=mous)
        for category in (FileCategory.PRODUCT, FileCategory.README, FileCategory.RAW):
            ArchiveFile.objects.create(
                member_ous=mous,
                name=f"{tag}_{i}_{category}.tar",
                category=category,
                size=1000 + i,
                access_url=f"https://almascience.org/dataPortal/{tag}_{i}_{category}.tar",
            )
        uids.append(mous.uid)
    return uids


def count(run: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries, clock.frozen(NOW):
        run()
    return len(queries.captured_queries)


def fresh(user):
    """The account as a request loads it: nothing cached from an earlier run."""
    return type(user).objects.get(pk=user.pk)


def counts_for(run: Callable[[list[str]], object]) -> tuple[int, int]:
    small, large = build("S", SMALL), build("L", LARGE)
    return count(lambda: run(small)), count(lambda: run(large))


@pytest.mark.parametrize("role", ["pi", "delegate", "member"])
def test_the_access_decider_runs_as_many_queries_for_3_member_ouses_as_for_24(people, role):
    def decide(uids: list[str]) -> None:
        # Bare rows, as any caller might pass them: the decider fetches what it needs itself.
        mouses = list(MemberOUS.objects.filter(uid__in=uids))
        decisions = access.decide_many(fresh(people[role]), mouses, surface="count")
        assert len(decisions) == len(uids)

    small, large = counts_for(decide)
    assert small == large


@pytest.mark.parametrize("role", ["pi", "member"])
def test_the_request_tree_runs_as_many_queries_for_3_member_ouses_as_for_24(people, role):
    def build_tree(uids: list[str]) -> None:
        built = tree.build_tree(
            fresh(people[role]), MemberOUS.objects.filter(uid__in=uids), categories=["product"]
        )
        assert len(built.mous_nodes) == len(uids)
        assert any(g.placeholder for p in built.projects for gl in p.goals for g in gl.groups)

    small, large = counts_for(build_tree)
    assert small == large


def test_the_request_page_runs_as_many_queries_for_3_member_ouses_as_for_24(people):
    client = Client()
    client.force_login(people["pi"])

    def page(uids: list[str]) -> None:
        response = client.get("/requests/new/", {"mous": uids, "category": ["product", "readme"]})
        assert response.status_code == 200
        assert uids[-1] in response.text

    small, large = counts_for(page)
    assert small == large


def _request(owner, uids: list[str]) -> DownloadRequest:
    return DownloadRequest.objects.create(
        owner=owner,
        member_ous_uids=uids,
        categories=["product", "readme"],
        submitted_at=NOW,
    )


@pytest.mark.parametrize("role", ["pi", "member"])
def test_request_preparation_runs_as_many_queries_for_3_member_ouses_as_for_24(people, role):
    def prepare(uids: list[str]) -> None:
        request = _request(people[role], uids)
        request_service.prepare_request(str(request.pk))
        request.refresh_from_db()
        assert request.phase == "done"
        allowed = 2 if role == "pi" else 1  # per public or own member OUS: product + readme
        assert request.file_count >= allowed

    small, large = counts_for(prepare)
    assert small == large


def test_the_script_of_a_ready_request_runs_as_many_queries_for_3_member_ouses_as_for_24(
    people,
):
    client = Client()
    client.force_login(people["pi"])

    def script(uids: list[str]) -> None:
        request = _request(people["pi"], uids)
        with clock.frozen(NOW):
            request_service.prepare_request(str(request.pk))
        response = client.get(f"/requests/{request.pk}/script")
        assert response.status_code == 200

    # The preparation is counted too; the test above pins it alone.
    small, large = counts_for(script)
    assert small == large


@pytest.mark.parametrize("role", ["pi", "delegate", "member"])
def test_the_tick_all_offer_runs_as_many_queries_for_3_member_ouses_as_for_24(people, role):
    """Count, size and withheld of a whole result: one aggregate, plus the rights and the
    basket's own count, whatever the number of member OUSs."""

    def offer(uids: list[str]) -> None:
        for mous in MemberOUS.objects.filter(uid__in=uids):
            ObservationFactory.create_batch(2, member_ous=mous)
        found = basket.offer(fresh(people[role]), Q(member_ous_uid__in=uids))
        assert found.downloadable + found.withheld == len(uids)
        assert found.downloadable_bytes > 0

    def counted(uids: list[str]) -> int:
        offer(uids)  # the rows are made outside the count
        return count(lambda: basket.offer(fresh(people[role]), Q(member_ous_uid__in=uids)))

    small, large = build("S", SMALL), build("L", LARGE)
    assert counted(small) == counted(large)
