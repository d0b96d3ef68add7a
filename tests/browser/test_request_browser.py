"""A member walks the request page in chromium, ticks classes, submits, sees it become ready."""

import pytest
from playwright.sync_api import expect

from downloads.models import AlmaIdentity
from queries.archive.sample import MULTIGROUP_CODE, PROPRIETARY_CODE
from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.integration.waiting import wait_for_mail

pytestmark = pytest.mark.browser


def test_build_submit_and_watch_a_request_become_ready(
    page, sample, live_worker, smtp_sink, settings, live_server
):
    settings.PORTAL_BASE_URL = live_server.url
    pi = UserFactory(username="pat")
    AlmaIdentity.objects.create(user=pi, alma_userid="demo_pi")
    browser_login(page, "pat", DEFAULT_PASSWORD)

    page.goto(f"/aq/?project_code={PROPRIETARY_CODE}|{MULTIGROUP_CODE}&result_view=project")
    page.check(f"input[name=project][value='{PROPRIETARY_CODE}']")
    page.check(f"input[name=project][value='{MULTIGROUP_CODE}']")
    page.click("#request-download")

    tree = page.locator("#request_tree")
    expect(tree).to_contain_text(f"Project {PROPRIETARY_CODE}")
    expect(tree).to_contain_text("empty placeholder, nothing to download")
    expect(page.locator("#cat-product")).to_be_checked()
    expect(page.locator("#cat-raw")).not_to_be_checked()
    before = page.locator("#file-count").inner_text()
    page.check("#cat-raw")
    expect(page.locator("#file-count")).not_to_have_text(before)
    expect(tree).to_contain_text(".asdm.sdm.tar")

    page.click("#submit-request")
    expect(page.locator("#request-state")).to_have_text("ready", timeout=60_000)
    expect(page.locator("#download-script")).to_be_visible()
    assert len(wait_for_mail(smtp_sink, 1)) == 1
    page.goto("/requests/")
    expect(page.locator("#requests")).to_contain_text("ready")
