"""The result page's pictures as the server sends them: the sky plot has a footprint for each
row of the page it names and the rest of the result as centres; the spectral view a track per
row with its windows and the chosen line; wrong input gets the field's message."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from queries.models import Observation
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
    assert 0 < sky.count('class="sky-context"') < total


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
