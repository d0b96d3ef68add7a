"""In chromium: tick rows of one search into the basket, run another search and add rows of it
too, open the basket (both searches' member OUSs are there) and make one request of it; the
basket is then empty."""

import re

import pytest
from playwright.sync_api import expect

from downloads.models import BasketItem, DownloadRequest
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
