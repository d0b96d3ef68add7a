"""In chromium, a permalink's first screen shows the result table with its sky plot and
spectral view; every row of the page has its footprint, hovering one marks its row and clicking
it ticks the row's checkbox; the line finder's line is drawn."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser

PERMALINK = "/aq/?ra_dec=204.25+-29.87%2C+0.3&band_list=3"


def test_every_row_has_its_footprint_and_a_click_ticks_the_row(page, sample):
    UserFactory(username="alice")
    browser_login(page, "alice", DEFAULT_PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto(PERMALINK)
    expect(page.locator("#sky svg.sky-plot")).to_be_visible()
    expect(page.locator("#spectrum svg.spectrum-plot")).to_be_visible()
    rows = page.locator("#raw-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.obs)")
    footprints = page.locator("#sky .sky-footprint").evaluate_all(
        "shapes => shapes.map(s => s.dataset.row)"
    )
    assert rows and footprints == rows
    # Results and both pictures on the first screen of a laptop.
    for selector in ("#raw-table tbody tr", "#sky svg", "#spectrum svg"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["y"] < 900, selector

    # Footprints of one field overlap: events go to the shape itself (what a pointer over its
    # visible part sends), then a real click lands on the top-most one, the last row's.
    key = rows[1]
    shape = page.locator(f'#sky .sky-footprint[data-row="{key}"]')
    shape.dispatch_event("mouseover")
    expect(page.locator(f'tr[data-obs="{key}"]')).to_have_class("linked-hover")
    shape.dispatch_event("mouseout")
    expect(page.locator(f'tr[data-obs="{key}"]')).not_to_have_class("linked-hover")
    shape.dispatch_event("click")
    expect(page.locator(f'tr[data-obs="{key}"] input[type=checkbox]')).to_be_checked()
    shape.dispatch_event("click")
    expect(page.locator(f'tr[data-obs="{key}"] input[type=checkbox]')).not_to_be_checked()
    top = rows[-1]
    page.locator(f'#sky .sky-footprint[data-row="{top}"]').click()
    expect(page.locator(f'tr[data-obs="{top}"] input[type=checkbox]')).to_be_checked()


def test_the_line_finder_draws_its_line_over_the_windows(page, sample):
    UserFactory(username="alice")
    browser_login(page, "alice", DEFAULT_PASSWORD)

    page.goto("/aq/?line=CO%281-0%29&redshift=0.0017")
    expect(page.locator("#spectrum .spec-line")).to_have_count(1)
    expect(page.locator("#spectrum")).to_contain_text("CO(1-0)")
    expect(page.locator("#adql")).to_contain_text("em_min <=")


def test_tick_every_row_of_a_page_and_see_how_many_member_ouss_that_is(page, sample):
    UserFactory(username="alice")
    browser_login(page, "alice", DEFAULT_PASSWORD)

    page.goto(PERMALINK)
    expect(page.locator("#ticked-count")).to_have_text("none ticked")
    page.locator("#raw-table thead input.tick-page").check()
    rows = page.locator("#raw-table tbody input[type=checkbox]")
    assert rows.count() > 1
    assert all(rows.nth(i).is_checked() for i in range(rows.count()))
    distinct = len(set(rows.evaluate_all("boxes => boxes.map(b => b.value)")))
    expect(page.locator("#ticked-count")).to_have_text(
        f"{distinct} member OUS{'s' if distinct != 1 else ''} ticked"
    )
    rows.first.uncheck()
    assert not page.locator("#raw-table thead input.tick-page").is_checked()
    # The request builder receives every ticked member OUS.
    page.click("#request-download")
    expect(page).to_have_url(re.compile(r"/requests/new/\?.*mous="))
