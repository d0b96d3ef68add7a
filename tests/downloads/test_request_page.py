"""The request page: preparation progress read from what the worker writes, sizes per file class
once ready, a tree that folds at each level, and nothing of files the owner may not download."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from archiveportal import jobs
from downloads import services as request_service
from downloads.models import AlmaIdentity, Delegation, DownloadRequest
from queries.models import ArchiveFile, FileCategory, GroupOUS, ScienceGoal
from tests.downloads import test_query_counts
from tests.factories import MemberOUSFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
# The accounts of the query-count worlds (a PI, a delegate, a member), shared as a fixture.
people = test_query_counts.people

SIZES = {FileCategory.PRODUCT: 3_000_000, FileCategory.AUXILIARY: 20_000, FileCategory.README: 7}


def _mous(project, group, n: int, *, released: bool = True):
    mous = MemberOUSFactory(
        uid=f"uid://A001/Xpage/m{project.pk}_{n}",
        project=project,
        group_ous=group,
        release_date=timezone.now() + timedelta(days=-30 if released else 300),
    )
    for category, size in SIZES.items():
        ArchiveFile.objects.create(
            member_ous=mous,
            name=f"page_{project.pk}_{n}_{category}.tar",
            category=category,
            size=size,
            access_url=f"https://almascience.org/dataPortal/page_{project.pk}_{n}_{category}.tar",
        )
    return mous


def _project(code: str, pi_userid: str = ""):
    project = ProjectFactory(code=code, pi_userid=pi_userid)
    goal = ScienceGoal.objects.create(project=project, uid=f"{code}/goal", name="Dense cores")
    group = GroupOUS.objects.create(
        uid=f"uid://A001/Xpage/g{code}", project=project, science_goal=goal
    )
    return project, group


def _request(owner, uids, categories=("product", "auxiliary", "readme")) -> DownloadRequest:
    return DownloadRequest.objects.create(
        owner=owner,
        member_ous_uids=list(uids),
        categories=list(categories),
        submitted_at=timezone.now(),
    )


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _progress(html: str) -> tuple[int, int]:
    found = re.search(r'<progress id="request-progress" max="(\d+)" value="(\d+)"', html)
    assert found, "no <progress> on the page"
    return int(found.group(2)), int(found.group(1))


class _SlowArchive:
    """An archive whose DataLink the worker asks for each unlisted member OUS; at each call it
    looks at the request page as the owner's browser polls it."""

    def __init__(self, client: Client, request_id) -> None:
        self.client, self.request_id, self.seen = client, request_id, []

    def datalink(self, uid: str) -> list:
        polled = self.client.get(f"/requests/{self.request_id}/", HTTP_HX_REQUEST="true")
        self.seen.append(_progress(polled.text))
        return []


def test_the_polled_status_shows_how_many_member_ouses_the_worker_has_listed(monkeypatch):
    owner = UserFactory()
    project, group = _project("2031.1.00001.S")
    listed = _mous(project, group, 0)
    unlisted = [
        MemberOUSFactory(uid=f"uid://A001/Xpage/u{i}", project=project, group_ous=group)
        for i in range(3)
    ]
    request = _request(owner, [listed.uid, *(m.uid for m in unlisted)])
    archive = _SlowArchive(_logged_in(owner), request.pk)
    monkeypatch.setattr(request_service, "get_client", lambda: archive)

    request_service.prepare_request(str(request.pk))

    # The catalogued one is done at once; each DataLink call sees the ones before it done.
    assert archive.seen == [(1, 4), (2, 4), (3, 4)]
    request.refresh_from_db()
    assert request.phase == jobs.Phase.DONE and request.mous_prepared == 4


def test_the_progress_is_the_counter_in_the_database(people):
    request = _request(people["member"], [f"uid://A001/Xpage/x{i}" for i in range(5)])
    DownloadRequest.objects.filter(pk=request.pk).update(phase=jobs.Phase.RUNNING, mous_prepared=2)
    page = _logged_in(people["member"]).get(f"/requests/{request.pk}/")
    assert _progress(page.text) == (2, 5)
    assert "2 of 5" in page.text


def _ready_page(owner, uids) -> tuple[DownloadRequest, str]:
    request = _request(owner, uids)
    request_service.prepare_request(str(request.pk))
    request.refresh_from_db()
    assert request.phase == jobs.Phase.DONE
    page = _logged_in(owner).get(f"/requests/{request.pk}/")
    assert page.status_code == 200
    return request, page.text


def _class_rows(html: str) -> dict[str, tuple[int, int]]:
    table = re.search(r'<table class="class-sizes".*?</table>', html, re.S).group(0)
    rows = re.findall(
        r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td>'
        r'<td class="num" data-bytes="(\d+)">',
        table,
    )
    return {label: (int(n), int(size)) for label, n, size in rows}


def test_a_ready_request_shows_count_and_size_per_file_class_adding_up_to_the_total():
    owner = UserFactory()
    project, group = _project("2031.1.00002.S")
    request, html = _ready_page(owner, [_mous(project, group, i).uid for i in range(3)])
    rows = _class_rows(html)
    total = rows.pop("Total")
    assert rows == {
        "Product": (3, 3 * SIZES[FileCategory.PRODUCT]),
        "Auxiliary": (3, 3 * SIZES[FileCategory.AUXILIARY]),
        "README": (3, 3 * SIZES[FileCategory.README]),
    }
    assert total == (sum(n for n, _ in rows.values()), sum(s for _, s in rows.values()))
    assert total == (request.file_count, request.total_size)
    assert "8.6\xa0MB" in html  # human-readable, as the rest of the portal writes sizes


def test_the_tree_folds_at_science_goal_group_and_member_ous_with_the_member_ous_totals():
    owner = UserFactory()
    project, group = _project("2031.1.00003.S")
    mous = _mous(project, group, 0)
    _, html = _ready_page(owner, [mous.uid])
    assert re.search(r'<li class="goal"><details open><summary>Dense cores', html)
    assert re.search(
        rf'<li class="group"><details open><summary>Group OUS {re.escape(group.uid)}', html
    )
    member = re.search(
        rf'<li class="mous" data-mous="{re.escape(mous.uid)}">\s*<details><summary>(.*?)</summary>',
        html,
        re.S,
    )
    assert member and "3 files, 2.9\xa0MB" in member.group(1)
    assert html.count("<details") == html.count("</details>") == 3


def test_files_the_owner_may_no_longer_download_leave_no_name_size_or_count(people):
    pi = UserFactory(username="page_pi")
    AlmaIdentity.objects.create(user=pi, alma_userid="page_pi")
    delegate = people["delegate"]
    delegation = Delegation.objects.create(pi=pi, delegate=delegate)
    open_project, open_group = _project("2031.1.00004.S")
    closed_project, closed_group = _project("2031.1.00005.S", pi_userid="page_pi")
    public = _mous(open_project, open_group, 0)
    proprietary = _mous(closed_project, closed_group, 0, released=False)
    request, _ = _ready_page(delegate, [public.uid, proprietary.uid])
    assert request.file_count == 6

    delegation.revoked_at = timezone.now()
    delegation.save()
    html = _logged_in(delegate).get(f"/requests/{request.pk}/").text

    assert f"page_{closed_project.pk}_0" not in html
    rows = _class_rows(html)
    assert rows["Total"] == (3, sum(SIZES.values()))
    assert "Proprietary until" in html
    assert _logged_in(pi).get(f"/requests/{request.pk}/").status_code == 404


def test_the_ready_request_page_runs_as_many_queries_for_3_member_ouses_as_for_24(people):
    client = _logged_in(people["pi"])

    def page(uids: list[str]) -> None:
        request = _request(people["pi"], uids, categories=("product", "readme"))
        request_service.prepare_request(str(request.pk))
        response = client.get(f"/requests/{request.pk}/")
        assert response.status_code == 200
        assert 'id="class-sizes"' in response.text and uids[-1] in response.text

    small, large = test_query_counts.counts_for(page)
    assert small == large
