"""The result pages' rendering and reads (issue 13): rows built in Python stay escaped and
linked as the template wrote them, both page plans give the same pages, the per-project band
summary follows the member OUSs, and the number of queries per page does not grow with the rows.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from queries import columns as cols
from queries import selectors, tables
from queries.hierarchy import rebuild_hierarchy
from queries.models import MemberOUS, Observation, ProjectSummary
from tests.factories import ObservationFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def member(client):
    user = UserFactory(username="pager")
    client.force_login(user)
    return user


def _obs_ids(page) -> list[str]:
    return re.findall(r'<tr data-obs="([^"]+)"', page.text)


def _queries(client, url: str, **params) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url, params)
    assert page.status_code == 200
    return len(captured.captured_queries), page


def test_hostile_names_and_titles_reach_the_page_as_text(client, member):
    project = ProjectFactory(code="2030.1.00001.S", title=f'"{HOSTILE}', abstract=HOSTILE)
    ObservationFactory(
        member_ous__project=project, member_ous__uid="uid://A001/X1/X1", target_name=HOSTILE
    )
    rebuild_hierarchy([project.code])
    raw = client.get("/aq/", {"project_code": project.code}).text
    by_project = client.get("/aq/", {"project_code": project.code, "result_view": "project"}).text
    for page in (raw, by_project):
        assert HOSTILE not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'title="&quot;&lt;script&gt;' in raw  # the hover's title cannot end the attribute


def test_rows_keep_their_links_checkboxes_and_units(client, sample, member):
    page = client.get("/aq/", {"project_code": "2017.1.00079.S"}).text
    row = re.search(r'<tr data-obs="[^"]+">.*?</tr>', page).group(0)
    mous = re.search(r'name="mous" value="([^"]+)"', row).group(1)
    assert f'<a href="{reverse("queries:mous", args=[mous])}">{mous}</a>' in row
    assert f'href="{reverse("queries:project", args=["2017.1.00079.S"])}"' in row
    assert 'class="abstract-hover"' in row
    assert "Frequency [GHz]" in page
    assert 'data-sort="frequency"' in page


@pytest.mark.parametrize(
    ("route", "value"),
    [
        ("queries:project", "2017.1.00079.S"),
        ("queries:mous", "uid://A001/X1295/X35"),
        ("queries:mous", "uid://A001/X 1/a?b#c%d"),
    ],
)
def test_row_links_are_what_reverse_writes(route, value):
    assert tables.url_maker(route)(value) == reverse(route, args=[value])


@pytest.mark.parametrize("limit", [0, 3, selectors.COUNT_FIRST_LIMIT])
def test_both_page_plans_give_the_same_pages(client, sample, member, settings, monkeypatch, limit):
    """COUNT_FIRST_LIMIT 0 sends every search through count-then-ORDER-BY; the default pages
    small results in one statement. Same rows, same order, same count, NULLs where PostgreSQL
    puts them."""
    monkeypatch.setattr(selectors, "COUNT_FIRST_LIMIT", limit)
    settings.QUERIES_PAGE_SIZE = 7
    band3 = Observation.objects.filter(band_mask=1 << 3)
    for sort in ("-frequency", "frequency", "pwv", "-pwv", "", "obs_id", "-obs_id"):
        shown = []
        for number in (1, 2):
            shown += _obs_ids(client.get("/aq/", {"band_list": "3", "sort": sort, "page": number}))
        assert shown == _expected(band3, sort)[:14], sort
    count = band3.count()
    last = client.get("/aq/", {"band_list": "3", "page": 10_000})
    assert f"page {-(-count // 7)} of {-(-count // 7)}" in last.text
    assert f'id="result-count">{count} observations<' in last.text


def _expected(rows, sort: str) -> list[str]:
    """obs_ids in the pages' order: by the key (NULLs last ascending, first descending), ties
    in obs_id order."""
    descending, key = sort.startswith("-"), sort.lstrip("-") or "obs_id"
    values = sorted(rows.values_list("obs_id", key))
    present = [v for v in values if v[1] is not None]
    present.sort(key=lambda v: v[1], reverse=descending)  # stable: ties keep obs_id order
    ids = [obs_id for obs_id, _ in present]
    absent = [obs_id for obs_id, value in values if value is None]
    return absent + ids if descending else ids + absent


def test_the_band_summary_follows_the_member_ouses(sample):
    for summary in ProjectSummary.objects.select_related("project"):
        union = 0
        for mask in MemberOUS.objects.filter(project=summary.project).values_list(
            "band_mask", flat=True
        ):
            union |= mask
        assert summary.band_mask == union, summary.code
        assert summary.code == summary.project.code
    with_rows = set(Observation.objects.values_list("project_id", flat=True))
    assert with_rows <= set(ProjectSummary.objects.values_list("project_id", flat=True))


def test_the_band_project_view_lists_the_projects_with_a_row_in_the_band(
    client, sample, member, settings
):
    settings.QUERIES_PAGE_SIZE = 1000
    page = client.get("/aq/", {"band_list": "6", "result_view": "project"}).text
    listed = re.findall(r'name="project" value="([^"]+)"', page)
    expected = sorted(
        set(Observation.objects.filter(band_mask=1 << 6).values_list("proposal_id", flat=True))
    )
    assert listed == expected


def test_queries_per_page_do_not_grow_with_the_rows(client, sample, member, settings, monkeypatch):
    """The same number of queries whatever the page size, however many rows match and
    whichever page plan runs: rows, projects, member OUSs and sources are each read in one
    query per page (no N+1)."""
    client.get("/aq/", {"band_list": "3"})  # the session and the cached mirror facts
    counts = {}
    for size, limit in ((2, 0), (50, 0), (2, selectors.COUNT_FIRST_LIMIT), (50, 20_000)):
        settings.QUERIES_PAGE_SIZE = size
        monkeypatch.setattr(selectors, "COUNT_FIRST_LIMIT", limit)
        for name, params in {
            "one project": {"project_code": "2017.1.00079.S"},
            "band 3": {"band_list": "3"},
            "band 3 and 6": {"band_list": "3|6"},
            "cone on M83": {"ra_dec": "204.25 -29.87, 0.3"},
        }.items():
            for view in ("raw", "project"):
                n, _ = _queries(client, "/aq/", **params, result_view=view)
                counts[(limit, size, name, view)] = n

    def pinned(
        *, view: str, band: bool, limit: int | None = None, cone: bool | None = None
    ) -> set[int]:
        return {
            n
            for (lim, _, name, v), n in counts.items()
            if v == view
            and ("band" in name) == band
            and limit in (None, lim)
            and cone in (None, "cone" in name)
        }

    # session + user, column choice, estimate (PostgreSQL), then either the page statement
    # and the page's rows, or the count and the page's rows (with their projects' titles)
    for limit in (0, selectors.COUNT_FIRST_LIMIT):
        raw = pinned(view="raw", band=False, limit=limit) | pinned(
            view="raw", band=True, limit=limit
        )
        assert len(raw) == 1, counts
    if connection.vendor == "postgresql":  # SQLite has no estimate to ask for
        assert pinned(view="raw", band=False) | pinned(view="raw", band=True) == {6}, counts
    # session + user, the page's projects and member OUSs ranked from the matches' (project,
    # member OUS) pairs (PostgreSQL; elsewhere pairs, then codes), member OUSs, sources, projects
    generic = pinned(view="project", band=False, cone=False)
    assert generic == ({6} if connection.vendor == "postgresql" else {7}), counts
    # a cone on PostgreSQL: session + user, the page's projects, member OUSs and sources from
    # the observed positions (``selectors.position_matches``), member OUSs, projects
    cone = pinned(view="project", band=False, cone=True)
    assert cone == ({5} if connection.vendor == "postgresql" else {7}), counts
    # session + user, the summaries counted and paged (one statement on PostgreSQL, two
    # elsewhere), member OUSs, sources (from the observed positions on PostgreSQL), projects
    band = pinned(view="project", band=True)
    assert band == ({6} if connection.vendor == "postgresql" else {7}), counts


def test_api_rows_carry_only_obscore_columns(client, sample, member):
    """The hover's project title comes with the page's rows; it must not leak into the API."""
    results = client.get("/api/observations/?project_code=2017.1.00079.S").json()["results"]
    assert results
    for row in results:
        assert set(row) <= {"id", *(c.name for c in cols.COLUMNS)}, set(row)


def test_the_column_chooser_ticks_the_chosen_columns_in_catalogue_order():
    html = tables.column_chooser(["frequency", "obs_id"])
    ticks = re.findall(r'name="columns" value="([^"]+)" form="columns-form"( checked)?', html)
    assert [name for name, _ in ticks] == [c.name for c in cols.COLUMNS]
    assert {name for name, checked in ticks if checked} == {"frequency", "obs_id"}


def test_links_are_what_urlencode_writes():
    from urllib.parse import urlencode

    from queries.views import _link

    params = {"source_name_alma": "NGC 1068 & <b>", "ra_dec": "83.8 -5.3, 0.2", "page": 3}
    assert _link(params, sort="-frequency", page=1) == "?" + urlencode(
        {**params, "sort": "-frequency", "page": 1}
    )
    assert _link(params, sort="") == "?" + urlencode(params)


_NUMERIC_TEXT = re.compile(r"^(|not set|nan|inf|-inf|[0-9+\-.: ]+)$")


@pytest.mark.parametrize(
    "column", [c for c in (*cols.COLUMNS, *cols._SEXAGESIMAL.values(), *cols._WAVELENGTH.values())
               if c.numeric], ids=lambda c: f"{c.name}-{c.label}")  # fmt: skip
def test_numeric_columns_show_nothing_that_needs_escaping(column):
    """``tables`` writes numeric cells unescaped: their formatters give numbers and dates only."""
    from datetime import UTC, datetime

    values = [None, 0, -0.0, 1e-9, -123.456789, 359.99999, 1e20, float("nan"), float("inf")]
    if column.name == "obs_release_date":
        values = [None, datetime(2024, 6, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)]
    for value in values:
        try:
            text = column.show(value)
        except (ValueError, OverflowError):  # no text at all (an MJD of 1e20, a NaN angle)
            continue
        assert _NUMERIC_TEXT.match(text), (column.name, value, text)


RHO = "\N{GREEK SMALL LETTER RHO}"  # beyond Latin-1: a page with it was two bytes a character


def _plain_raw_row(row: dict, columns: list, projects: dict) -> str:
    """A raw row as the template wrote it, cell by cell, every text through ``html.escape``."""
    from html import escape

    cells = []
    for c in columns:
        value = row[c.name]
        scale = tables.display_scale(c.name)
        text = c.show(None if value is None else float(value) / scale) if scale != 1.0 else None
        text = c.show(value) if text is None else text
        if c.name == "proposal_id" and value:
            project = projects.get(value, {})
            text = (
                f'<a href="{escape(reverse("queries:project", args=[value]))}" '
                f'title="{escape(project.get("title", ""))}&#10;&#10;'
                f'{escape(project.get("abstract_short", ""))}" class="abstract-hover">'
                f"{escape(value)}</a>"
            )
        elif c.name == "member_ous_uid" and value:
            text = f'<a href="{escape(reverse("queries:mous", args=[value]))}">{escape(value)}</a>'
        elif not c.numeric:
            text = escape(text)
        cells.append(f'<td class="{"num" if c.numeric else ""}">{text}</td>')
    mous = escape(str(row["member_ous_uid"]))
    return (
        f'<tr data-obs="{escape(row["obs_id"])}"><td><input type="checkbox" name="mous" '
        f'value="{mous}" aria-label="Tick member OUS {mous}"></td>' + "".join(cells) + "</tr>"
    )


def test_raw_rows_show_each_value_as_a_plain_rendering_would():
    """Cells remembered per page (``tables._memo``), texts escaped only when they need it and
    characters beyond ASCII written as references show exactly what a cell-by-cell rendering
    shows: repeated, missing, hostile and non-ASCII values alike."""
    from datetime import UTC, datetime
    from html import unescape

    names = ["proposal_id", "target_name", "s_ra", "band_list", "frequency", "t_exptime",
             "obs_release_date", "member_ous_uid", "pol_states"]  # fmt: skip
    columns = cols.displayed(names, coordinates="degrees", spectral="frequency")
    release, placeholder = datetime(2024, 6, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
    rows = [
        {"obs_id": f"uid://A001/X1/X{i}", "proposal_id": "2030.1.00001.S" if i % 3 else "",
         "target_name": [f"{RHO} Oph A", HOSTILE, "NGC 1068", None][i % 4], "s_ra": 10.0 + i / 7,
         "band_list": "6" if i % 2 else "3 7", "frequency": 230.5 if i % 2 else None,
         "t_exptime": 60.0, "obs_release_date": [release, None, placeholder][i % 3],
         "member_ous_uid": f"uid://A001/X2/X{i // 4}" if i % 5 else None, "pol_states": "/XX/YY/"}
        for i in range(12)
    ]  # fmt: skip
    projects = {"2030.1.00001.S": {"title": 'Disks "and" jets', "abstract_short": "Ab… ≥ 2"}}
    body = tables.raw_body(rows, columns, projects)
    assert body.isascii()  # a character beyond ASCII is written as a reference
    written = body.split("\n")
    assert len(written) == len(rows)
    for row, html in zip(rows, written, strict=True):
        assert unescape(html) == unescape(_plain_raw_row(row, columns, projects))
    assert HOSTILE not in body


def test_project_rows_show_their_texts_as_written():
    from html import unescape

    row = selectors.ProjectRow(
        code="2030.1.00002.S", title=f"{RHO} Oph: " + "x" * 80, pi_name="Å. Ångström",
        abstract=f"{HOSTILE} …", bands=[3, 6], n_mous=2, n_sources=3, integration=120.4,
        status="mixed", next_release=None, placeholder_release=True,
    )  # fmt: skip
    body = tables.project_body([row])
    assert body.isascii() and HOSTILE not in body
    shown = unescape(body)
    assert f"{RHO} Oph: " + "x" * (tables.TITLE_CHARS - 8) + "…" in shown
    assert ">Å. Ångström<" in shown and f'title="{HOSTILE} …"' in shown
    assert '<span class="badge mixed">mixed</span>' in shown and "<td>not set</td>" in shown
