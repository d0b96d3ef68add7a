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


# What the interactive view drew, read through Aladin Lite's own API: the overlay's shapes and
# the row each carries (a union is several shapes of one row).
OVERLAY_ROWS = """view => view.footprints.overlayItems.map(shape => shape.portalRow)"""

# A point on the outline of one of ``key``'s shapes, in pixels of the view, where no other
# row's outline passes within Aladin's pick distance (footprints of one field overlap), or null.
LONE_EDGE = """([view, key]) => {
  const aladin = view.aladin;
  for (const shape of view.footprints.overlayItems.filter(s => s.portalRow === key)) {
    const points = shape.raDecArray
      || [[shape.centerRaDec[0], shape.centerRaDec[1] + shape.radiusDegrees]];
    for (const [ra, dec] of points) {
      const xy = aladin.world2pix(ra, dec);
      if (!xy) continue;
      const x = Math.round(xy[0]), y = Math.round(xy[1]);
      const near = aladin.view.closestObjects(x, y, 5) || [];
      if (near.length && near.every(s => s.portalRow === key)) return [x, y];
    }
  }
  return null;
}"""


def test_the_interactive_view_draws_one_footprint_per_row_and_ties_it_to_the_table(page, sample):
    """Aladin Lite starts from the vendored module with no network (the survey tiles fail;
    the SVG stays), its overlay holds every row of the page, and its hover and click reach
    the row."""
    UserFactory(username="alice")
    browser_login(page, "alice", DEFAULT_PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(PERMALINK)
    rows = page.locator("#raw-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.obs)")
    assert len(rows) > 1
    page.click("#sky-interactive")
    expect(page.locator("#aladin-status")).to_contain_text("Survey tiles come from")
    view = page.locator("#aladin-view")
    expect(view).to_be_visible()

    assert not [e for e in errors if "export" in e or "is not defined" in e], errors
    # The fallback is still there, whatever the tiles did.
    expect(page.locator("#sky svg.sky-plot")).to_be_visible()
    drawn = view.evaluate(OVERLAY_ROWS)
    assert set(drawn) == set(rows) and len(drawn) >= len(rows)

    # The pointer over the view first: Aladin builds its pick index on the first mouse move.
    view.scroll_into_view_if_needed()
    box = view.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    key, edge = None, None
    for candidate in rows:
        edge = page.evaluate(LONE_EDGE, [view.element_handle(), candidate])
        if edge:
            key = candidate
            break
    assert edge, "no row's outline stands alone at the initial zoom"
    row = page.locator(f'tr[data-obs="{key}"]')
    page.mouse.move(box["x"] + edge[0], box["y"] + edge[1])
    expect(row).to_have_class("linked-hover")
    page.mouse.click(box["x"] + edge[0], box["y"] + edge[1])
    expect(row.locator("input[type=checkbox]")).to_be_checked()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    expect(row).not_to_have_class("linked-hover")

    # And back: the pointer on the table row lights the row's shapes in the interactive view.
    hovered = """([view, key]) => view.footprints.overlayItems
        .filter(s => s.portalRow === key).every(s => s.isHovered)"""
    row.locator("td").last.hover()
    page.wait_for_function(hovered, arg=[view.element_handle(), key])
    page.mouse.move(0, 0)
    assert not page.evaluate(hovered, [view.element_handle(), key])
