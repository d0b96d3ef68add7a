"""Every page a member opens passes axe-core's WCAG 2.1 A/AA rules and best practices, in
chromium, with the sample loaded: forms, result pages in both modes, saved searches, requests,
access, watches and the calendar."""

from __future__ import annotations

import pytest

from downloads.models import AlmaIdentity
from queries.archive.sample import DEMO_PI_USERID, PROPRIETARY_CODE
from tests.browser.axe import violations
from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, SavedSearchFactory, UserFactory

pytestmark = pytest.mark.browser

PAGES = [
    "/aq/",
    "/saved/",
    "/requests/",
    "/basket/",
    "/access/",
    "/access/token/",
    "/watches/",
    "/whats-new/",
    "/calendar/",
    f"/aq/project/{PROPRIETARY_CODE}/",
    "/aq/?ra_dec=204.25+-29.87%2C+0.3&band_list=3",
    "/aq/?band_list=3&result_view=project",
    "/aq/?line=CO%281-0%29&redshift=0.0017",
]


@pytest.fixture
def page(browser_instance, live_server):
    """A page whose context lets the test inject axe-core past the portal's CSP."""
    context = browser_instance.new_context(base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_the_login_page_is_accessible(page, db):
    page.goto("/accounts/login/")
    assert violations(page) == []


@pytest.mark.parametrize("path", PAGES)
def test_each_page_of_a_member_is_accessible(page, sample, path):
    pi = UserFactory(username="pi")
    AlmaIdentity.objects.create(user=pi, alma_userid=DEMO_PI_USERID)
    SavedSearchFactory(owner=pi, name="band 6", params={"band_list": "6"})
    browser_login(page, "pi", DEFAULT_PASSWORD)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert violations(page) == []
