"""The search pages from a member's side: form, both views, sorting, paging, exports."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.test import Client

from archiveportal import jobs
from queries.models import ColumnPreference, Observation, SavedSearch, Search
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client):
    user = UserFactory(username="searcher")
    client.force_login(user)
    return user


def test_the_form_groups_fields_as_alma_does(client, sample, member):
    page = client.get("/aq/")
    assert page.status_code == 200
    for legend in (
        "Position",
        "Energy",
        "Time",
        "Polarisation",
        "Observation",
        "Project",
        "Publication",
        "Options",
    ):
        assert f"<summary>{legend}</summary>" in page.text
    assert 'name="band_list"' in page.text


def test_common_fields_are_in_view_and_a_group_with_a_value_opens(client, sample, member):
    page = client.get("/aq/?band_list=3&water_vapour=<1").text
    common = page.split('class="common-fields"')[1].split("</fieldset>")[0]
    for name in ("ra_dec", "band_list", "frequency", "line", "project_code"):
        assert f'name="{name}"' in common
    closed = page.split('data-remember="search-group-time"')[1].split(">")[0]
    opened = page.split('data-remember="search-group-observation"')[1].split(">")[0]
    assert "open" not in closed and "open" in opened


def test_active_constraints_are_chips_that_remove_themselves(client, sample, member):
    page = client.get("/aq/?band_list=3&project_code=2017.1.00079.S").text
    chips = page.split('class="chips"')[1].split("</ul>")[0]
    assert "Band: <b>3</b>" in chips
    assert 'href="/aq/?project_code=2017.1.00079.S&amp;result_view=raw"' in chips


def test_a_permalink_with_alma_parameter_names_reproduces_the_search(client, sample, member):
    page = client.get("/aq/?project_code=2017.1.00079.S&result_view=raw")
    assert page.status_code == 200
    assert "2017.1.00079.S" in page.text
    assert 'id="raw-table"' in page.text
    count = Observation.objects.filter(proposal_id="2017.1.00079.S").count()
    assert count > 1
    assert f'<span class="count" id="result-count">{count} observations</span>' in page.text


def test_bad_input_rerenders_with_the_message_on_the_field(client, sample, member):
    page = client.get("/aq/?frequency=84..&band_list=11")
    assert page.status_code == 200
    assert "Frequency: &#x27;84..&#x27; is not understood" in page.text
    assert 'id="error_band_list"' in page.text
    htmx = client.get("/aq/?frequency=84..", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 422
    assert htmx.text.lstrip().startswith('<div id="results"')
    # The page and the partial share a URL on the error path too: caches must keep them apart.
    assert "HX-Request" in htmx["Vary"]
    assert "HX-Request" in page["Vary"]


@pytest.mark.parametrize(
    "junk", ["'; DROP TABLE x;--", "\u202e\u0000", "9" * 5000, "!(((", "<script>alert(1)</script>"]
)
def test_no_input_produces_a_server_error(client, sample, member, junk):
    for field in (
        "frequency",
        "ra_dec",
        "project_code",
        "start_date",
        "band_list",
        "source_name_alma",
        "public_data",
        "array",
    ):
        response = client.get("/aq/", {field: junk})
        if "\x00" in junk:
            # No field accepts NUL (PostgreSQL cannot store it): a 400 naming the field.
            assert response.status_code == 400, (field, junk)
            assert f"- {field}:" in response.text
        else:
            assert response.status_code == 200, (field, junk)
        assert "<script>alert(1)</script>" not in response.text


def test_project_view_collapses_everything_per_project(client, sample, member):
    page = client.get("/aq/?project_code=2099.1.99901.S&result_view=project")
    assert 'id="project-table"' in page.text
    assert page.text.count('name="project" value="2099.1.99901.S"') == 1
    assert 'class="badge mixed"' in page.text


def _obs_ids(page) -> list[str]:
    return re.findall(r'<tr data-obs="([^"]+)"', page.text)


def test_sorting_and_paging(client, sample, member, settings):
    settings.QUERIES_PAGE_SIZE = 10
    first = client.get("/aq/?band_list=3&sort=-frequency")
    second = client.get("/aq/?band_list=3&sort=-frequency&page=2")
    assert "page 1 of" in first.text
    assert "page 2 of" in second.text
    assert "▼" in html.unescape(first.text)  # written as a character reference
    shown = _obs_ids(first) + _obs_ids(second)
    assert len(shown) == len(set(shown)) == 20
    frequency = dict(Observation.objects.values_list("obs_id", "frequency"))
    shown_frequencies = [frequency[obs_id] for obs_id in shown]
    # The highest band-3 frequencies of the whole mirror, highest first, across both pages.
    band3 = sorted(
        Observation.objects.filter(band_list__contains="3").values_list("frequency", flat=True),
        reverse=True,
    )
    assert shown_frequencies == band3[:20]
    ascending = [frequency[o] for o in _obs_ids(client.get("/aq/?band_list=3&sort=frequency"))]
    assert ascending == sorted(band3)[:10]


def test_htmx_requests_get_the_results_partial_only(client, sample, member):
    response = client.get("/aq/?band_list=7", HTTP_HX_REQUEST="true")
    assert response.text.lstrip().startswith('<div id="results"')
    assert "<html" not in response.text
    assert "HX-Request" in response["Vary"]


def test_the_column_choice_is_saved_per_member(client, sample, member):
    client.post("/aq/columns/", {"columns": ["proposal_id", "pwv"], "next": "/aq/"})
    assert ColumnPreference.objects.get(user=member).columns == ["proposal_id", "pwv"]
    page = client.get("/aq/?band_list=3")
    assert "PWV [mm]" in page.text
    assert "Frequency [GHz]" not in page.text


def test_exports_carry_units_in_the_header(client, sample, member):
    response = client.get("/aq/?project_code=2017.1.00079.S&format=csv")
    rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    assert "frequency [GHz]" in rows[0]
    assert "bandwidth [Hz]" in rows[0]
    assert len(rows) > 1
    votable = client.get("/aq/?project_code=2017.1.00079.S&format=votable")
    assert b'unit="GHz"' in votable.getvalue()
    tsv = client.get("/aq/?project_code=2017.1.00079.S&format=tsv")
    assert b"\t" in tsv.getvalue().splitlines()[0]


def test_the_page_shows_adql_and_an_astroquery_snippet(client, sample, member):
    page = client.get("/aq/?band_list=3")
    assert "SELECT * FROM ivoa.obscore WHERE" in page.text
    assert "from astroquery.alma import Alma" in page.text


def test_the_abstract_is_there_on_hover(client, sample, member):
    page = client.get("/aq/?project_code=2099.1.99901.S")
    assert 'class="abstract-hover"' in page.text
    assert "SYNTHETIC demo data made by Archive Portal" in page.text


def test_running_a_search_records_it_for_a_worker(client, sample, member):
    response = client.post("/aq/run/", {"band_list": "3", "result_view": "raw"})
    search = Search.objects.get()
    assert response.status_code == 302
    assert f"search={search.pk}" in response["Location"]
    assert search.params == {"band_list": "3"}
    assert "band_list" in search.adql
    status = client.get(f"/aq/search/{search.pk}/status/")
    assert status.status_code == 200
    assert 'hx-trigger="every 1s"' in status.text
    # Finished: htmx's "stop polling" status, and a live search tells the results to reload.
    Search.objects.filter(pk=search.pk).update(phase=jobs.Phase.DONE, live=True)
    done = client.get(f"/aq/search/{search.pk}/status/")
    assert done.status_code == 286
    assert "search-done" in done["HX-Trigger"]
    assert 'hx-trigger="every 1s"' not in done.text


def test_project_and_mous_pages(client, sample, member):
    assert "Member OUSs" in client.get("/aq/project/2017.1.00079.S/").text
    page = client.get("/aq/mous/uid://A001/X1295/X35/")
    assert page.status_code == 200
    assert "uid://A001/X1295/X35" in page.text


def test_saved_searches_private_and_lab_wide(client, sample, member):
    client.post(
        "/saved/new/",
        {
            "name": "Band 3 M83",
            "description": "dense gas",
            "query": "band_list=3&ra_dec=204.25+-29.87%2C+0.2",
            "visibility": "lab",
        },
    )
    client.post(
        "/saved/new/", {"name": "mine only", "query": "band_list=6", "visibility": "private"}
    )
    saved = SavedSearch.objects.get(name="Band 3 M83")
    assert saved.params == {"ra_dec": "204.25 -29.87, 0.2", "band_list": "3"}
    other = UserFactory(username="colleague")
    client.force_login(other)
    listing = client.get("/saved/").text
    assert "Band 3 M83" in listing
    assert ">mine only<" not in listing
    opened = client.get(f"/saved/{saved.pk}/")
    assert opened.status_code == 302
    assert "band_list=3" in opened["Location"]
    assert client.post(f"/saved/{saved.pk}/delete/").status_code == 403
    client.force_login(member)
    client.post(f"/saved/{saved.pk}/rename/", {"name": "Renamed"})
    saved.refresh_from_db()
    assert saved.name == "Renamed"
    client.post(f"/saved/{saved.pk}/delete/")
    assert not SavedSearch.objects.filter(pk=saved.pk).exists()


def test_the_api_answers_with_token_or_session(client, sample, member):
    url = "/api/observations/?project_code=2017.1.00079.S"
    by_session = client.get(url).json()
    by_token = Client().get(url, HTTP_AUTHORIZATION=f"Token {token_for(member, 'read')}").json()
    assert by_session["count"] == Observation.objects.filter(proposal_id="2017.1.00079.S").count()
    assert {r["proposal_id"] for r in by_session["results"]} == {"2017.1.00079.S"}
    assert by_token == by_session
    assert Client().get(url).status_code in (401, 403)
    bad = client.get("/api/observations/?frequency=abc")
    assert bad.status_code == 400
    assert "frequency" in bad.json()["errors"]
