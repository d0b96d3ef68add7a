"""Plans of the large searches (issue 13, target 2), pinned by ``EXPLAIN`` as in
tests/queries/test_search_indexes.py, and the results they must not change.

- Page n of a large result walks ``obs_id``'s unique key in order and tests the search on the
  key's own entries (migration 0016: it INCLUDEs ``id, project_id, frequency, band_mask``), so
  the walk reads no table rows.
- A project-level text search reads its matching projects once per page, when the search's
  WHERE is compiled, and tests ``project_id = ANY(ids)`` (``queries.search_where``); its rows,
  their order and its counts are those of the ``IN (subquery)`` it replaces. The projects are
  found by the trigram index on their stored upper-case copy (``queries.upper_text``).

Plans are read with sequential scans, bitmap scans and sorts disabled: the test table is tiny,
so the test says whether the index *can* serve the statement, not what the planner picks on
1M rows (bench/README.md measures that).
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from queries import search_where, selectors
from queries.fields import parse_form, query_params
from queries.filters import observation_filter
from queries.models import Observation, Project, ProjectSummary
from tests.factories import ObservationFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans and SQL"),
]

KEY = "queries_observation_obs_id_key"


@pytest.fixture(autouse=True)
def nothing_kept():
    search_where.forget()
    yield
    search_where.forget()


def q_of(params: dict[str, str]):
    return observation_filter(parse_form(query_params(params)))


def _plan(sql: str, params=()) -> str:
    with connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _page_statement(params: dict[str, str], monkeypatch) -> str:
    """The statement that counts and pages a large result (``selectors._page_of_many``) for
    the search ``params``, page 3 of 2 rows, as the view sends it."""
    monkeypatch.setattr(selectors, "COUNT_FIRST_LIMIT", 0)  # every result counts as large
    with CaptureQueriesContext(connection) as captured:
        selectors.observations_page(
            q_of(params), sort="", page=3, size=2, columns=["obs_id", "frequency"]
        )
    (statement,) = [q["sql"] for q in captured.captured_queries if "LIMIT 2 OFFSET 4" in q["sql"]]
    return statement


def test_the_obs_id_key_includes_what_large_searches_test_and_still_arbitrates_upserts():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [KEY]
        )
        (definition,) = cursor.fetchone()
        cursor.execute(
            "EXPLAIN INSERT INTO queries_observation (obs_id) SELECT 'x' "
            "ON CONFLICT (obs_id) DO NOTHING"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert definition == "UNIQUE (obs_id) INCLUDE (id, project_id, frequency, band_mask)"
    assert f"Conflict Arbiter Indexes: {KEY}" in plan


@pytest.mark.parametrize(
    "params",
    [
        {"frequency": "230..250"},
        {"band_list": "3|6", "frequency": "80..300"},
        {"project_abstract": "outflows"},
    ],
)
def test_a_large_page_walks_the_obs_id_key_without_reading_rows(params, monkeypatch):
    project = ProjectFactory(abstract="Protostellar outflows in Orion")
    for frequency in (90.0, 235.0, 240.0, 240.0, 245.0, 250.0, 250.0):
        ObservationFactory(member_ous__project=project, frequency=frequency)
    plan = _plan(_page_statement(params, monkeypatch))
    assert f"Index Only Scan using {KEY}" in plan, plan


def _abstract_projects() -> None:
    """Projects whose abstracts match or not, each with rows, and a row with no project."""
    for n, abstract in enumerate(
        ["Protostellar OUTFLOWS in Orion", "protostellar outflows, again", "Dust in M83", ""]
    ):
        project = ProjectFactory(code=f"2030.1.{n:05d}.S", abstract=abstract)
        for k in range(3):
            ObservationFactory(member_ous__project=project, frequency=100.0 + 10 * k + n)
    ObservationFactory(member_ous__project=ProjectFactory(code="2030.1.00009.S"))
    orphan = ObservationFactory()
    Observation.objects.filter(pk=orphan.pk).update(project=None)


TEXT_SEARCHES = [
    {"project_abstract": "protostellar outflows"},
    {"project_abstract": "!protostellar"},
    {"project_abstract": "protostellar | dust"},
    {"project_abstract": "nothing like this"},
    {"project_title": "*"},
    {"project_abstract": "outflows", "frequency": "100..115"},
]


@pytest.mark.parametrize("params", TEXT_SEARCHES)
def test_a_text_search_matches_the_same_rows_with_its_projects_resolved(params, monkeypatch):
    _abstract_projects()
    q = q_of(params)
    resolved = search_where.compile_where(Observation, q)
    monkeypatch.setattr(search_where, "RESOLVED_PROJECTS", -1)  # never resolve
    as_subquery = search_where.compile_where(Observation, q)

    def ids(where) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM queries_observation WHERE {where[0]} ORDER BY id", where[1]
            )
            return [i for (i,) in cursor.fetchall()]

    assert "queries_project" not in resolved[0] and "= ANY(" in resolved[0]
    assert "queries_project" in as_subquery[0]
    expected = sorted(Observation.objects.filter(q).values_list("id", flat=True))
    assert ids(resolved) == ids(as_subquery) == expected


@pytest.mark.parametrize(
    ("field", "index"),
    [
        ("project_abstract", "project_abstract_trgm"),
        ("project_title", "project_title_trgm"),
        ("pi_name", "project_pi_name_trgm"),
    ],
)
def test_a_text_search_finds_its_projects_by_the_trigram_index_on_the_stored_copy(field, index):
    # ``queries.upper_text``: the index is on the stored upper-case copy, and the recheck of
    # its candidates compares the copy as it is, never ``upper()`` of each row's text.
    _abstract_projects()
    with CaptureQueriesContext(connection) as captured:
        search_where.compile_where(Observation, q_of({field: "protostellar outflows"}))
    (match,) = [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {match}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Bitmap Index Scan on {index}" in plan, plan
    assert "upper(" not in plan, plan
    assert "_upper ~~ '%PROTOSTELLAR OUTFLOWS%'" in plan, plan


def test_a_text_search_matching_many_projects_keeps_its_subquery(monkeypatch):
    _abstract_projects()
    monkeypatch.setattr(search_where, "RESOLVED_PROJECTS", 1)  # two projects match
    where = search_where.compile_where(Observation, q_of(TEXT_SEARCHES[0]))
    assert "queries_project" in where[0]


def _matching_ids(where) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM queries_observation WHERE {where[0]} ORDER BY id", where[1])
        return [i for (i,) in cursor.fetchall()]


@pytest.mark.parametrize(
    "change",
    ["a matching project arrives", "an abstract comes to match", "an abstract stops matching"],
)
def test_a_text_search_follows_the_projects_the_mirror_holds_now(change):
    # Its clause carries the ids of the projects that matched when it was compiled: a harvest
    # changing the projects must not leave the search on the old ones. (Such a search is not
    # kept between pages, its Q holding a queryset: ``search_where``'s module doc.)
    _abstract_projects()
    search = TEXT_SEARCHES[0]
    search_where.where_of(Observation, q_of(search))
    if change == "a matching project arrives":
        project = ProjectFactory(code="2031.1.00001.S", abstract="New protostellar outflows")
        ObservationFactory(member_ous__project=project)
    elif change == "an abstract comes to match":
        Project.objects.filter(abstract="Dust in M83").update(abstract="Protostellar outflows")
    else:
        Project.objects.filter(abstract__startswith="protostellar").update(abstract="Dust")

    where = search_where.where_of(Observation, q_of(search))

    assert "= ANY(" in where[0]
    expected = sorted(Observation.objects.filter(q_of(search)).values_list("id", flat=True))
    assert _matching_ids(where) == expected


def _shown(client, params: dict[str, str]) -> tuple[list[str], str]:
    page = client.get("/aq/", params).text
    count = re.search(r'id="result-count">([^<]*)<', page).group(1)
    rows = re.findall(r'<tr data-obs="([^"]+)"', page) or re.findall(
        r'name="project" value="([^"]+)"', page
    )
    return rows, count


@pytest.mark.parametrize("limit", [0, selectors.COUNT_FIRST_LIMIT])
def test_text_search_pages_are_the_same_with_the_projects_resolved(
    client, settings, monkeypatch, limit
):
    """Rows, order and counts of every page, in both page plans and both views, are those of
    the subquery: with ``RESOLVED_PROJECTS`` at -1 nothing is resolved."""
    _abstract_projects()
    client.force_login(UserFactory())
    settings.QUERIES_PAGE_SIZE = 2
    monkeypatch.setattr(selectors, "COUNT_FIRST_LIMIT", limit)
    pages = []
    for resolve in (search_where.RESOLVED_PROJECTS, -1):
        monkeypatch.setattr(search_where, "RESOLVED_PROJECTS", resolve)
        shown = []
        # public data only joins the member OUSs: no WHERE kept, the querysets resolve
        for params in [*TEXT_SEARCHES, {"project_abstract": "outflows", "public_data": "yes"}]:
            for view in ("raw", "project"):
                for sort in ("", "-frequency"):
                    for number in (1, 2, 99):
                        shown.append(
                            _shown(
                                client,
                                {**params, "result_view": view, "sort": sort, "page": number},
                            )
                        )
        pages.append(shown)
    assert pages[0] == pages[1]
    assert any(rows for rows, _ in pages[0])


def test_a_text_search_matches_its_projects_once_a_page(client):
    _abstract_projects()
    client.force_login(UserFactory())
    for view in ("raw", "project"):
        with CaptureQueriesContext(connection) as captured:
            client.get("/aq/", {"project_abstract": "protostellar outflows", "result_view": view})
        likes = [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"]]
        assert len(likes) == 1 and Project._meta.db_table in likes[0], likes


@pytest.mark.parametrize("bands", ["6", "3", "3|7"])
def test_band_project_view_pages_are_the_same_from_the_summaries_and_positions(
    client, sample, settings, monkeypatch, bands
):
    """A band list alone: its projects counted and paged in one statement, its sources read
    from the observed positions; every page (both orders, past the last) lists the same
    projects, member OUS counts, source counts and total as the summaries' two statements and
    the observations' sources."""
    client.force_login(UserFactory())
    settings.QUERIES_PAGE_SIZE = 3

    def pages() -> list[str]:
        shown = []
        for sort in ("", "-code"):
            for number in (1, 2, 999):
                page = client.get(
                    "/aq/",
                    {"band_list": bands, "result_view": "project", "sort": sort, "page": number},
                ).text
                table = re.search(r"<table.*?</table>", page, re.S)
                count = re.search(r'id="result-count">([^<]*)<', page).group(1)
                shown.append((table.group(0) if table else "", count))
        return shown

    now = pages()

    def summaries_then(mous_q, descending, *, page, size):
        summaries = ProjectSummary.objects.filter(mous_q)
        total = summaries.count()
        number = selectors.clamp_page(page, total, size)
        ids = summaries.order_by("-code" if descending else "code")
        ids = ids.values_list("project_id", flat=True)[(number - 1) * size : number * size]
        return list(ids), total, number

    monkeypatch.setattr(selectors, "_summary_page", summaries_then)
    monkeypatch.setattr(
        selectors,
        "_sources_at_positions",
        lambda q, ids, where: selectors._sources_per_project(q, ids, where),
    )
    before = pages()
    assert now == before
    assert any('name="project"' in table for table, _ in now)


@pytest.mark.parametrize(
    ("sort", "matches"), [("", "m(id, k)"), ("-obs_id", "m(id, k)"), ("-frequency", "m(id, k, o)")]
)
def test_a_small_page_sorted_by_obs_id_materialises_it_once(sort, matches):
    # obs_id is unique: as the sort key it needs no tie-break, so the matches carry it once
    # (``selectors._page_of_few``); another key keeps obs_id beside it for its ties.
    for frequency in (90.0, 235.0, 240.0):
        ObservationFactory(frequency=frequency)
    with CaptureQueriesContext(connection) as captured:
        selectors.observations_page(
            q_of({"frequency": "80..300"}), sort=sort, page=1, size=2, columns=["obs_id"]
        )
    (statement,) = [q["sql"] for q in captured.captured_queries if "AS MATERIALIZED" in q["sql"]]
    assert statement.startswith(f"WITH {matches} AS MATERIALIZED"), statement
