"""A member searches in chromium: runs a search, switches views, sorts, chooses columns, saves
a lab-wide search, and a colleague opens it."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser


def test_search_views_sort_columns_and_a_lab_wide_saved_search(page, new_page, sample, live_worker):
    UserFactory(username="alice")
    UserFactory(username="bob")
    browser_login(page, "alice", DEFAULT_PASSWORD)

    page.goto("/aq/")
    page.fill("#id_band_list", "3")
    page.fill("#id_ra_dec", "204.25 -29.87, 0.3")
    page.click("#run-search")
    expect(page.locator("#raw-table")).to_be_visible()
    expect(page.locator("#search_status")).to_contain_text("Search finished")
    count = page.locator("#result-count").inner_text()
    assert re.match(r"\d+ observations?", count)
    assert "band_list=3" in page.url

    # Sort by frequency, descending on the second click (htmx swaps the results).
    page.click("th a[data-sort=frequency]")
    expect(page.locator("th a[data-sort=frequency]")).to_contain_text("▲")
    page.click("th a[data-sort=frequency]")
    expect(page.locator("th a[data-sort=frequency]")).to_contain_text("▼")
    frequencies = [
        float(t) for t in page.locator("#raw-table tbody tr td:nth-child(7)").all_inner_texts() if t
    ]
    assert frequencies == sorted(frequencies, reverse=True)

    # Choose columns: add PWV, drop Frequency.
    page.click("details.column-chooser summary")
    page.check("input[name=columns][value=pwv]")
    page.uncheck("input[name=columns][value=frequency]")
    page.click("#save-columns")
    expect(page.locator("#raw-table thead")).to_contain_text("PWV")
    expect(page.locator("#raw-table thead")).not_to_contain_text("Frequency")

    # Project view.
    page.click("#view-project")
    expect(page.locator("#project-table")).to_be_visible()
    expect(page.locator("#project-table")).to_contain_text("2017.1.00079.S")
    # The pictures load after the page and push what is below them down: clicked before they
    # arrive, the click can land where the "Save this search" panel was a moment ago.
    expect(page.get_by_text("Drawing the")).to_have_count(0)

    # Save lab-wide.
    page.click("text=Save this search")
    page.fill("#save-name", "M83 band 3")
    page.fill("#save-description", "dense gas in M83")
    page.select_option("#save-visibility", "lab")
    page.click("#save-search")
    expect(page.locator(".messages")).to_contain_text("Saved 'M83 band 3' for the whole lab.")

    colleague = new_page()
    browser_login(colleague, "bob", DEFAULT_PASSWORD)
    colleague.goto("/saved/")
    colleague.click("#saved-lab >> text=M83 band 3")
    expect(colleague.locator("#project-table")).to_contain_text("2017.1.00079.S")
    assert "band_list=3" in colleague.url
    assert colleague.input_value("#id_band_list") == "3"


def test_bad_input_shows_the_message_on_the_field(page, sample):
    UserFactory(username="carol")
    browser_login(page, "carol", DEFAULT_PASSWORD)
    page.goto("/aq/?frequency=84..")
    expect(page.locator("#error_frequency")).to_contain_text("Accepted: numbers in GHz")
