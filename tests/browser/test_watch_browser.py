"""A member in chromium watches a saved search, reads the watches page, and opens the release
calendar of the project they lead, with its feed address for a calendar program."""

import pytest
from playwright.sync_api import expect

from downloads.models import AlmaIdentity
from queries.archive.sample import DEMO_PI_USERID, PROPRIETARY_CODE
from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, SavedSearchFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_pi_watches_a_search_and_opens_the_release_calendar(page, sample):
    pi = UserFactory(username="pi")
    AlmaIdentity.objects.create(user=pi, alma_userid=DEMO_PI_USERID)
    saved = SavedSearchFactory(owner=pi, name="My band 6", params={"band_list": "6"})
    browser_login(page, "pi", DEFAULT_PASSWORD)

    page.goto("/saved/")
    control = page.locator(f"#watch-{saved.pk}")
    control.locator("select[name=frequency]").select_option("weekly")
    control.locator("button[type=submit]").click()  # htmx swaps the control in place
    expect(page.locator(f"#watch-{saved.pk}")).to_contain_text("watching")

    page.click("nav >> text=What's new")
    page.click("text=Your watches")
    expect(page.locator("#watches")).to_contain_text("My band 6")
    expect(page.locator(f"#watch-{saved.pk} select[name=frequency]")).to_have_value("weekly")

    page.click("nav >> text=Calendar")
    expect(page.locator("main")).to_contain_text(PROPRIETARY_CODE)
    expect(page.locator("main")).to_contain_text("your project (PI)")
    page.click("text=Make my calendar address")
    address = page.locator("#feed-url").input_value()
    feed = page.request.get(address)  # the address alone opens it
    assert feed.ok and "BEGIN:VCALENDAR" in feed.text() and PROPRIETARY_CODE in feed.text()
