"""The projects' stored upper-case copies (``queries.upper_text``): kept by the database however
a project is written, and a text search through them finds exactly the projects that
``UPPER(column)`` found, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from queries import filters, upper_text
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import Observation, Project
from queries.syntax import parse_string
from tests.factories import ObservationFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

TEXTS = [
    "Protostellar OUTFLOWS in Orion",
    "protostellar outflows, again",
    "Dust in M83",
    "Étoiles massives dans la Straße",
    "étoiles MASSIVES",
    "",
]
TERMS = [
    "protostellar outflows",
    "OUTFLOWS",
    "étoiles",
    "ÉTOILES",
    "straße",
    "=dust in m83",
    "protostellar*",
    "*again",
    "*massives*",
    "p?otostellar*orion",
    "==Dust in M83",
    "!protostellar",
    "dust | étoiles",
    "*",
]


@pytest.fixture
def projects() -> None:
    for n, text in enumerate(TEXTS):
        ProjectFactory(code=f"2030.1.{n:05d}.S", title=text, abstract=text, pi_name=text[:50])


def _codes(q: Q) -> list[str]:
    return sorted(Project.objects.filter(q).values_list("code", flat=True))


def test_project_text_columns_have_their_copies():
    assert upper_text.copies(Project) == {
        "title": "title_upper",
        "abstract": "abstract_upper",
        "pi_name": "pi_name_upper",
    }


def test_the_copy_is_the_databases_upper_case_kept_on_every_write(projects):
    project = Project.objects.get(code="2030.1.00000.S")
    Project.objects.filter(pk=project.pk).update(abstract="Now about dust")
    project.refresh_from_db()
    project.title = "A new title"
    project.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM queries_project WHERE title_upper IS DISTINCT FROM UPPER(title) "
            "OR abstract_upper IS DISTINCT FROM UPPER(abstract) "
            "OR pi_name_upper IS DISTINCT FROM UPPER(pi_name)"
        )
        assert cursor.fetchone()[0] == 0
    row = Project.objects.values("title_upper", "abstract_upper").get(pk=project.pk)
    assert row == {"title_upper": "A NEW TITLE", "abstract_upper": "NOW ABOUT DUST"}


@pytest.mark.parametrize("column", ["title", "abstract", "pi_name"])
@pytest.mark.parametrize("term", TERMS)
def test_a_term_finds_the_same_projects_through_the_copy(projects, column, term):
    node = parse_string("project_abstract", term)
    plain = filters.string_q((column,), node, match="contains")
    through = filters.string_q(
        (column,), node, match="contains", upper_copies=upper_text.copies(Project)
    )
    assert _codes(through) == _codes(plain)


@pytest.mark.parametrize("field", ["project_abstract", "project_title", "pi_name"])
def test_the_search_form_finds_the_same_rows_as_without_copies(projects, field, monkeypatch):
    for project in Project.objects.all():
        ObservationFactory(member_ous__project=project)

    def rows(term: str) -> list[int]:
        q = observation_filter(parse_form({field: term}))
        return sorted(Observation.objects.filter(q).values_list("pk", flat=True))

    through = {term: rows(term) for term in TERMS}
    monkeypatch.setattr(upper_text, "copies", lambda model: {})
    assert through == {term: rows(term) for term in TERMS}
    assert any(through.values())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's SQL")
@pytest.mark.parametrize(
    ("term", "match"),
    [
        ("protostellar outflows", "contains"),  # icontains
        ("dust in m83", "exact"),  # iexact
        ("dust*", "contains"),  # istartswith
        ("*m83", "contains"),  # iendswith
        ("d?st*", "contains"),  # filters.Like
    ],
)
def test_a_case_insensitive_term_compares_the_copy_as_it_is(projects, term, match):
    node = parse_string("project_abstract", term)
    q = filters.string_q(("abstract",), node, match=match, upper_copies=upper_text.copies(Project))
    plain = filters.string_q(("abstract",), node, match=match)
    assert _codes(q) == _codes(plain)
    sql = str(Project.objects.filter(q).values("id").query)
    assert "abstract_upper" in sql and 'UPPER("queries_project"."abstract_upper"' not in sql
    assert 'UPPER(("queries_project"."abstract_upper")' not in sql, sql
    assert "UPPER(" in sql  # the pattern's side, upper-cased by the database
    assert _codes(q)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's SQL")
@pytest.mark.parametrize("term", ["==Dust in M83", "=Dust in M83"])
def test_a_case_sensitive_term_keeps_the_original_column(term):
    node = parse_string("project_abstract", term)
    q = filters.string_q(
        ("abstract",), node, match="contains", upper_copies=upper_text.copies(Project)
    )
    sql = str(Project.objects.filter(q).values("id").query)
    assert "abstract_upper" not in sql and '"queries_project"."abstract"' in sql


def test_the_admin_finds_projects_by_title_and_pi_through_the_copies(projects, client):
    admin = UserFactory(username="curator", is_staff=True, is_superuser=True)
    client.force_login(admin)
    for term, expected in [
        ("outflows ORION", ["2030.1.00000.S"]),
        ("massives", ["2030.1.00003.S", "2030.1.00004.S"]),
        ("dust in m83", ["2030.1.00002.S"]),
    ]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/admin/queries/project/", {"q": term})
        assert page.status_code == 200
        shown = sorted(c for c in Project.objects.values_list("code", flat=True) if c in page.text)
        assert shown == expected, term
        # The search's WHERE compares the copies (every column is selected either way).
        wheres = [q["sql"].partition(" WHERE ")[2] for q in queries.captured_queries]
        searched = [w for w in wheres if "title_upper" in w]
        assert searched and "pi_name_upper" in searched[0]
        assert '"queries_project"."title")' not in searched[0]
