"""In chromium: tick rows of one search into the basket, run another search and add rows of it
too, open the basket (both searches' member OUSs are there) and make one request of it; the
basket is then empty. Then "tick all results": its count and size, the proprietary member OUSs
withheld, and the basket filled with the rest, from the keyboard."""

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from downloads.access import decide_many
from downloads.models import BasketItem, DownloadRequest
from downloads.script import human_size
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import ArchiveFile, MemberOUS, Observation
from tests.conftest import browser_login
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser


def tick_first_row_into_the_basket(page) -> str:
    box = page.locator("#raw-table tbody input[type=checkbox]").first
    box.check()
    page.click("#basket-add")
    expect(page.locator("#basket-status")).to_contain_text("added; the basket holds")
    return box.get_attribute("value")


def test_the_basket_survives_a_new_search_and_becomes_one_request(page, sample):
    member = UserFactory(username="alice")
    browser_login(page, "alice", DEFAULT_PASSWORD)

    page.goto("/aq/?ra_dec=204.25+-29.87%2C+0.3&band_list=3")
    first = tick_first_row_into_the_basket(page)
    page.goto("/aq/?band_list=6")
    second = tick_first_row_into_the_basket(page)
    assert first != second

    page.click("nav >> text=Basket")
    expect(page.locator("#basket-table")).to_contain_text(first)
    expect(page.locator("#basket-table")).to_contain_text(second)
    page.click("#basket-request")
    page.click("#submit-request")
    expect(page).to_have_url(re.compile(r"/requests/[0-9a-f-]{36}/$"))

    made = DownloadRequest.objects.get(owner=member)
    assert set(made.member_ous_uids) == {first, second}
    assert not BasketItem.objects.filter(user=member).exists()


def test_tick_all_results_shows_count_and_size_then_fills_the_basket_from_the_keyboard(
    page, sample
):
    member = UserFactory(username="bob")
    browser_login(page, "bob", DEFAULT_PASSWORD)
    cone = "40.669629 -0.013281, 0.05"  # NGC 1068: public rows and the sealed demo project
    uids = set(
        Observation.objects.filter(observation_filter(parse_form({"ra_dec": cone}))).values_list(
            "member_ous_uid", flat=True
        )
    )
    mouses = list(MemberOUS.objects.filter(uid__in=uids))
    decisions = decide_many(member, mouses, surface="test")
    allowed = {m.uid for m in mouses if decisions[m.uid].allowed}
    size = sum(f.size or 0 for f in ArchiveFile.objects.filter(member_ous__uid__in=allowed))
    assert allowed and len(allowed) < len(uids)

    page.goto("/aq/?" + urlencode({"ra_dec": cone}))
    button = page.locator("#basket-add-result")
    expect(button).to_have_text(
        f"Tick all {len(allowed)} member OUSs of the result ({human_size(size)}) into the basket"
    )
    expect(page.locator("#basket-offer-withheld")).to_contain_text(
        f"{len(uids) - len(allowed)} proprietary member OUS"
    )
    button.focus()
    page.keyboard.press("Enter")

    expect(page.locator(".messages")).to_contain_text(f"{len(allowed)} member OUSs added")
    assert set(
        BasketItem.objects.filter(user=member).values_list("member_ous__uid", flat=True)
    ) == (allowed)
    page.goto("/basket/")
    expect(page.locator("#basket-table tbody tr")).to_have_count(len(allowed))
