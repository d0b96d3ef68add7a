"""The request page in chromium: axe finds nothing while it is preparing or once it is ready,
and the tree folds from the keyboard alone (the summaries are <details> toggles, no script)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from archiveportal import jobs
from downloads import services as request_service
from downloads.models import AlmaIdentity, DownloadRequest
from queries.archive.sample import DEMO_PI_USERID, MULTIGROUP_CODE, PROPRIETARY_CODE
from queries.models import MemberOUS
from tests.browser import test_accessibility_browser
from tests.browser.axe import violations
from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser
# A page whose context lets axe-core in past the portal's CSP.
page = test_accessibility_browser.page


def _request(owner) -> DownloadRequest:
    uids = list(
        MemberOUS.objects.filter(project__code__in=[PROPRIETARY_CODE, MULTIGROUP_CODE])
        .order_by("uid")
        .values_list("uid", flat=True)
    )
    return DownloadRequest.objects.create(
        owner=owner,
        member_ous_uids=uids,
        categories=["product", "auxiliary", "readme"],
        submitted_at=timezone.now(),
    )


@pytest.fixture
def pi(page, sample):
    member = UserFactory(username="pi")
    AlmaIdentity.objects.create(user=member, alma_userid=DEMO_PI_USERID)
    browser_login(page, "pi", DEFAULT_PASSWORD)
    return member


def test_a_request_being_prepared_shows_accessible_progress(page, pi):
    request = _request(pi)
    DownloadRequest.objects.filter(pk=request.pk).update(phase=jobs.Phase.RUNNING, mous_prepared=1)
    page.goto(f"/requests/{request.pk}/")
    expect(page.locator("#request-progress-text")).to_have_text(
        f"1 of {len(request.member_ous_uids)}"
    )
    assert violations(page) == []


def test_a_ready_request_is_accessible_and_its_tree_folds_from_the_keyboard(page, pi):
    request = _request(pi)
    request_service.prepare_request(str(request.pk))
    page.goto(f"/requests/{request.pk}/")
    expect(page.locator("#class-sizes")).to_contain_text("Total")
    assert violations(page) == []

    first = page.locator("li.mous > details").first
    expect(first).not_to_have_attribute("open", "")
    first.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(first).to_have_attribute("open", "")
    expect(first.locator("code").first).to_be_visible()


def test_the_request_builder_with_the_folding_tree_is_accessible(page, pi):
    page.goto(f"/requests/new/?project={PROPRIETARY_CODE}&project={MULTIGROUP_CODE}")
    expect(page.locator("li.goal > details > summary").first).to_be_visible()
    assert violations(page) == []
