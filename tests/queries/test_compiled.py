"""Statements compiled once (``queries.compiled``) and the project view's hand-written
statements give exactly what the ORM's querysets give, whatever the values they run with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Q

from queries import selectors
from queries.compiled import LIST_MARKERS, TIME_MARKER, Compiled
from queries.fields import parse_form, query_params
from queries.filters import observation_filter
from queries.models import ColumnPreference, MemberOUS, Observation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_compiled_statement_returns_what_values_returns_for_each_list(sample):
    def build(ids):
        return Observation.objects.filter(selectors._in(Observation, "id", ids)).values(
            "id", "obs_id", "frequency", "obs_release_date", title=selectors.F("project__title")
        )

    statement = Compiled(build)
    ids = list(Observation.objects.order_by("id").values_list("id", flat=True))
    for chosen in (ids[:3], ids[5:40:3], [], [ids[-1], ids[0]]):
        expected = sorted(build(chosen), key=lambda r: r["id"])
        assert sorted(statement.rows(chosen), key=lambda r: r["id"]) == expected


def test_the_columns_preference_reads_its_json_list():
    alice, bob = UserFactory(username="c_alice"), UserFactory(username="c_bob")
    ColumnPreference.objects.create(
        user=alice, columns=["frequency", "s_ra"], spectral="wavelength"
    )
    assert selectors.column_preference(alice.pk) == {
        "columns": ["frequency", "s_ra"],
        "coordinates": "degrees",
        "spectral": "wavelength",
    }
    assert selectors.column_preference(bob.pk) is None
    assert selectors.column_preference(None) is None


def test_a_compiled_statement_takes_the_time_it_is_run_at(sample):
    def build(ids, at):
        return (
            MemberOUS.objects.filter(selectors._in(MemberOUS, "pk", ids))
            .with_release_passed(at)
            .values("pk", "release_date", "release_passed")
        )

    statement = Compiled(build, LIST_MARKERS[0], TIME_MARKER)
    ids = list(MemberOUS.objects.values_list("pk", flat=True))
    dates = sorted(d for d in MemberOUS.objects.values_list("release_date", flat=True) if d)
    for at in (dates[0], dates[len(dates) // 2], dates[-1], datetime(2100, 1, 1, tzinfo=UTC)):
        found = sorted(statement.rows(ids, at), key=lambda r: r["pk"])
        assert found == sorted(build(ids, at), key=lambda r: r["pk"])
    assert len({r["release_passed"] for r in statement.rows(ids, dates[len(dates) // 2])}) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"ra_dec": "83.8221 -5.3911, 2"},
        {"band_list": "3"},
        {"band_list": "3|6", "frequency": "80..300"},
        {"project_abstract": "galaxy"},
        {"source_name_alma": "NGC"},
        {},
    ],
)
def test_project_pages_from_the_compiled_search_are_the_orms(sample, monkeypatch, params):
    q = observation_filter(parse_form(query_params(params)))
    mous_q = selectors.member_ous_filter(parse_form(query_params(params)))
    now = datetime(2024, 6, 1, tzinfo=UTC)
    fast = selectors.projects_page(q, sort="-code", page=1, size=7, now=now, mous_q=mous_q)
    monkeypatch.setattr(selectors, "_search_where", lambda model, q: None)
    orm = selectors.projects_page(q, sort="-code", page=1, size=7, now=now, mous_q=mous_q)
    assert fast == orm
    assert fast[1].total == 0 or fast[0]
    if params.get("band_list") == "3":
        assert fast[0], "the sample has band 3 projects"


def test_the_search_is_compiled_once_unless_empty_or_joined(sample):
    def where(params):
        q = observation_filter(parse_form(query_params(params)))
        return selectors._search_where(Observation, q)

    sql, params = where({"ra_dec": "83.8221 -5.3911, 2", "band_list": "6"})
    assert "%s" in sql and params
    assert where({"project_abstract": "galaxy"}) is not None  # a subquery, no join
    assert selectors._search_where(Observation, Q()) is None
    assert selectors._search_where(Observation, Q(project__title="x")) is None
