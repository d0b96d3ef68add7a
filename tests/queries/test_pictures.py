"""The result page's pictures as the server sends them: the sky plot has a footprint for each
row of the page it names and the rest of the result as centres; the spectral view a track per
row with its windows and the chosen line; wrong input gets the field's message."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import Observation
from queries.pictures import Context, PageKeys, fetch_within, handed_page, remember_page
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(client):
    client.force_login(UserFactory())
    return client


CONE = {"ra_dec": "204.25 -29.87, 0.3", "band_list": "3"}  # M83, several projects


def test_the_sky_plot_draws_each_row_of_the_page_and_the_rest_as_centres(member_client, sample):
    page = member_client.get(reverse("queries:search"), CONE)
    rows = re.findall(r'<tr data-obs="([^"]+)"', page.content.decode())
    assert rows

    sky = member_client.get(reverse("queries:sky"), CONE)

    assert sky.status_code == 200
    drawn = re.findall(r'class="sky-footprint" data-row="([^"]+)"', sky.content.decode())
    assert drawn == rows
    assert 'id="sky-data"' in sky.content.decode()


def test_a_later_page_draws_its_own_rows(member_client, sample, settings):
    settings.QUERIES_PAGE_SIZE = 5
    second = member_client.get(reverse("queries:search"), {**CONE, "page": 2})
    rows = re.findall(r'<tr data-obs="([^"]+)"', second.content.decode())

    sky = member_client.get(reverse("queries:sky"), {**CONE, "page": 2}).content.decode()

    assert re.findall(r'class="sky-footprint" data-row="([^"]+)"', sky) == rows
    total = Observation.objects.filter(s_ra__isnull=False).count()
    dots = int(re.search(r'class="sky-context" data-rows="(\d+)"', sky).group(1))
    assert 0 < dots < total
    assert f"the other {dots:,} rows of the result as dots" in sky


def test_above_the_limit_the_plot_says_how_many_of_the_other_rows_it_drew(
    member_client, sample, settings
):
    settings.QUERIES_PAGE_SIZE = 5
    settings.QUERIES_SKY_MAX_CENTRES = 3
    page = member_client.get(reverse("queries:search"), CONE).content.decode()
    total = int(re.search(r'id="result-count">(\d+)', page).group(1))
    assert total > 8

    sky = member_client.get(reverse("queries:sky"), CONE).content.decode()

    assert 'data-rows="3"' in sky
    assert f"3 of the other {total - 5:,} rows as dots" in sky
    assert "not a sample, and not all of them" in sky


def test_the_pictures_draw_the_rows_the_page_handed_over_without_searching_again(
    member_client, sample
):
    page = member_client.get(reverse("queries:search"), CONE).content.decode()
    rows = re.findall(r'<tr data-obs="([^"]+)"', page)
    # A harvest moves the page's first row out of the cone after the page was drawn: the
    # pictures still show the table on the member's screen.
    Observation.objects.filter(obs_id=rows[0]).update(s_ra=10.0, s_dec=10.0)

    sky = member_client.get(reverse("queries:sky"), CONE).content.decode()
    spectrum = member_client.get(reverse("queries:spectrum"), CONE).content.decode()

    assert re.findall(r'class="sky-footprint" data-row="([^"]+)"', sky) == rows
    assert re.findall(r'<g class="spec-track" data-row="([^"]+)"', spectrum) == rows


def test_without_the_page_the_picture_pages_the_search_itself(member_client, sample):
    from django.core.cache import cache

    page = member_client.get(reverse("queries:search"), CONE).content.decode()
    rows = re.findall(r'<tr data-obs="([^"]+)"', page)
    Observation.objects.filter(obs_id=rows[0]).update(s_ra=10.0, s_dec=10.0)
    cache.clear()

    sky = member_client.get(reverse("queries:sky"), CONE).content.decode()

    drawn = re.findall(r'class="sky-footprint" data-row="([^"]+)"', sky)
    assert rows[0] not in drawn and drawn[: len(rows) - 1] == rows[1:]


def test_a_page_is_handed_over_to_its_own_member_only(client, sample):
    alice, bob = UserFactory(), UserFactory()
    client.force_login(alice)
    rows = re.findall(
        r'<tr data-obs="([^"]+)"', client.get(reverse("queries:search"), CONE).content.decode()
    )
    Observation.objects.filter(obs_id=rows[0]).update(s_ra=10.0, s_dec=10.0)
    client.force_login(bob)

    sky = client.get(reverse("queries:sky"), CONE).content.decode()

    assert rows[0] not in re.findall(r'class="sky-footprint" data-row="([^"]+)"', sky)


@pytest.mark.parametrize(
    ("centres", "others", "complete", "caption"),
    [
        ([], 0, True, "no other rows in the result"),
        ([(1.0, 2.0)] * 7, 7, True, "the other 7 rows of the result as dots"),
        ([(1.0, 2.0)] * 3, 1200, False, "3 of the other 1,200 rows as dots"),
        ([(1.0, 2.0)] * 3, None, False, "3 other rows as dots"),
        ([], 1200, False, "the other 1,200 rows not drawn (too many to fetch in time)"),
        ([], None, False, "the other rows not drawn (too many to fetch in time)"),
    ],
)
def test_the_context_caption_says_what_was_drawn(centres, others, complete, caption):
    assert Context(centres, others, complete).caption().startswith(caption)


def test_in_project_view_the_pictures_draw_the_results_first_rows(member_client, sample):
    params = {**CONE, "result_view": "project"}
    page = member_client.get(reverse("queries:search"), params).content.decode()
    url = re.search(r'hx-get="(/aq/sky/\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert "result_view=project" in url

    sky = member_client.get(url).content.decode()

    drawn = re.findall(r'class="sky-footprint" data-row="([^"]+)"', sky)
    matching = Observation.objects.filter(observation_filter(parse_form(CONE)))
    assert drawn and set(drawn) <= set(matching.values_list("obs_id", flat=True))


def test_the_spectral_view_has_a_track_per_row_and_the_line_asked_for(member_client, sample):
    params = {"line": "CO(1-0)", "redshift": "0.0017"}
    page = member_client.get(reverse("queries:search"), params).content.decode()
    rows = re.findall(r'<tr data-obs="([^"]+)"', page)
    assert rows

    svg = member_client.get(reverse("queries:spectrum"), params).content.decode()

    assert re.findall(r'<g class="spec-track" data-row="([^"]+)"', svg) == rows
    assert svg.count('class="spec-line"') == 1 and "CO(1-0)" in svg
    assert " km/s" in svg  # the resolution at the line, in a covering window's tooltip


def test_a_picture_of_a_wrong_search_says_which_field_is_wrong(member_client, sample):
    answer = member_client.get(reverse("queries:sky"), {"ra_dec": "400 100"})
    assert answer.status_code == 422
    assert "RA Dec" in answer.content.decode()


def test_the_result_page_asks_for_both_pictures_of_its_rows(member_client, sample):
    page = member_client.get(reverse("queries:search"), {**CONE, "sort": "-frequency"})
    html = page.content.decode()
    assert 'hx-get="/aq/sky/?' in html and 'hx-get="/aq/spectrum/?' in html
    assert "sort=-frequency" in re.search(r'hx-get="(/aq/sky/\?[^"]+)"', html).group(1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_a_context_query_that_outlasts_its_time_is_stopped_and_the_timeout_put_back():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    slow = Observation.objects.raw("SELECT 1 AS id FROM pg_sleep(0.5)")
    fast = Observation.objects.raw("SELECT 1 AS id")

    assert fetch_within(20, slow) is None
    assert len(fetch_within(2000, fast)) == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before
        cursor.execute("SELECT pg_sleep(0.05)")  # the request's later queries are not cut short


def test_centres_sharing_a_pixel_are_one_dot_and_every_row_is_counted():
    from queries.sky import Footprint, render

    centres = [(150.0, 2.0)] * 40 + [(150.2, 2.1)] * 2
    svg = str(render([Footprint("a", "A", "", 150.1, 2.05)], centres=centres, max_footprints=5))

    assert 'data-rows="42"' in svg and 'data-points="2"' in svg


def test_with_the_cache_down_the_hand_over_is_skipped_not_an_error(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    keys = PageKeys(["uid://A001/X1/X1.source.M83.spw.1"], 1)

    remember_page(7, CONE, sort="", page=1, page_keys=keys)

    assert handed_page(7, CONE, sort="", page=1) is None
