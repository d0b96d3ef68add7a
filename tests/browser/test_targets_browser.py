"""A member in chromium uploads a 20-line target list with two bad lines, watches the worker
search it row by row, reads the two reasons and opens the merged result with its target column,
in the raw view and then in the project view."""

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, ResolvedNameFactory, UserFactory

pytestmark = pytest.mark.browser

GOOD = [
    "M83, 0.05deg",  # resolved from the cache
    "NGC 1068, 1arcmin",
    "204.25 -29.87, 30arcsec",
    "13:37:00.9 -29:51:57, 2'",
    "180.48 -18.88, 0.05",
    "12:01:55 -18:52:50",
    "285.48 -36.96, 1arcmin",
    "149.75 2.08, 0.02",
    "77.51 18.01, 30arcsec",
    "224.23 -35.7, 0.02deg",
    "216.98 -42.11, 0.02",
    "1.56 -6.39, 0.02",
    "36.12 6.99, 0.02",
    "40.67 -0.01, 10arcsec",
    "10 10, 1arcsec",  # nothing there: searched, no observation
    "20 20",
    "30 -30",
    "45 45, 5arcsec",
]
BAD = ["Zorglub", "83.8 -95.2, 30arcsec"]


def test_a_target_list_with_two_bad_rows_gives_18_searches_and_2_reasons(
    page, sample, live_worker, settings
):
    settings.QUERIES_RESOLVER_ONLINE = False  # names from the resolver's cache only
    ResolvedNameFactory(name="M83", ra=204.2538, dec=-29.8658)
    ResolvedNameFactory(name="NGC 1068", ra=40.6696, dec=-0.0133)
    ResolvedNameFactory(name="Zorglub", ra=None, dec=None, found=False)
    UserFactory(username="observer")
    browser_login(page, "observer", DEFAULT_PASSWORD)
    lines = [*GOOD[:9], BAD[0], *GOOD[9:], BAD[1]]
    assert len(lines) == 20

    page.goto("/aq/")
    page.click("#target-lists-link")
    page.fill("#id_name", "Lab targets")
    page.set_input_files(
        "#id_file",
        files=[
            {
                "name": "targets.txt",
                "mimeType": "text/plain",
                "buffer": "\n".join(lines).encode(),
            }
        ],
    )
    page.click("#target-upload button[type=submit]")

    expect(page.locator("#target-progress")).to_contain_text("Done", timeout=60_000)
    expect(page.locator("#count-searched")).to_have_text("18")
    expect(page.locator("#count-unresolved")).to_have_text("1")
    expect(page.locator("#count-invalid")).to_have_text("1")
    reasons = page.locator("#target-rows td.reason").all_inner_texts()
    assert [r for r in reasons if r] == [
        r for r in reasons if r.startswith(("Line 10: 'Zorglub'", "Line 20: "))
    ]
    assert len([r for r in reasons if r]) == 2
    expect(page.locator("#target-rows")).to_contain_text("outside the sky")

    page.click("#open-results")
    expect(page.locator("th", has_text="Target").first).to_be_visible()
    first = page.locator("tr[data-obs] td.target").first
    expect(first).not_to_be_empty()
    labels = set(page.locator("tr[data-obs] td.target").all_inner_texts())
    assert labels and all(label for label in labels)

    # A name row is labelled by its name, a position row by its line.
    good_labels = {"M83", "NGC 1068", *GOOD[2:]}
    page.click("#view-project")
    expect(page.locator("#project-table th", has_text="Target")).to_be_visible()
    cells = page.locator("#project-table tbody td.target")
    expect(cells.first).not_to_be_empty()
    for cell in cells.all_inner_texts():  # each project: its targets, sorted, '; ' between
        names = cell.split("; ")
        assert names == sorted(names) and set(names) <= good_labels
