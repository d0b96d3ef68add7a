"""The PI delegates in chromium, the delegate gains access, the PI revokes, access is gone."""

import pytest
from playwright.sync_api import expect

from downloads.models import AlmaIdentity
from queries.archive.sample import PROPRIETARY_CODE
from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser
PROPRIETARY_MOUS = "uid://A001/X99f1/X11"


def can_see_files(page) -> bool:
    page.goto(f"/requests/new/?mous={PROPRIETARY_MOUS}")
    return page.locator(f"li.mous[data-mous='{PROPRIETARY_MOUS}'] code").count() > 0


def test_delegate_then_revoke(page, new_page, sample):
    pi = UserFactory(username="pat")
    AlmaIdentity.objects.create(user=pi, alma_userid="demo_pi", alma_name="Demo, Pat")
    UserFactory(username="dana")
    browser_login(page, "pat", DEFAULT_PASSWORD)
    delegate = new_page()
    browser_login(delegate, "dana", DEFAULT_PASSWORD)

    assert not can_see_files(delegate)
    expect(delegate.locator(f"li.mous[data-mous='{PROPRIETARY_MOUS}']")).to_contain_text(
        "ask the PI (Demo, Pat) for delegation"
    )

    page.goto("/access/")
    expect(page.locator("#access_delegations")).to_contain_text(PROPRIETARY_CODE)
    page.select_option("#id_delegate", "dana")
    page.select_option("#id_project", PROPRIETARY_CODE)
    page.click("#grant-form button[type=submit]")
    expect(page.locator("#given tr[data-delegate=dana]")).to_contain_text("active")

    delegate.goto("/access/")
    expect(delegate.locator(".held-summary")).to_contain_text(PROPRIETARY_CODE)
    assert can_see_files(delegate)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#given tr[data-delegate=dana] button:has-text('Revoke')")
    expect(page.locator("#given tr[data-delegate=dana]")).to_contain_text("revoked")
    assert not can_see_files(delegate)
