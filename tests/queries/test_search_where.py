"""A search's WHERE is compiled once per search (``queries.search_where``): the kept clause is
the one a fresh compilation gives, and two searches that differ in any way never share one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL

from queries import search_where
from queries.fields import parse_form, query_params
from queries.filters import Like, observation_filter
from queries.models import Observation, Project

pytestmark = pytest.mark.django_db

SEARCHES = [
    {"ra_dec": "83.8221 -5.3911, 0.2", "band_list": "6"},
    {"ra_dec": "83.8221 -5.3911, 0.2"},
    {"frequency": "230..250"},
    {"band_list": "3|6", "frequency": "80..300"},
    {"source_name_alma": "NGC*1068"},
    {"project_code": "2011.0.00101.S"},
    {"spatial_resolution": "<0.5", "band_list": "7"},
]


@pytest.fixture(autouse=True)
def nothing_kept():
    search_where.forget()
    yield
    search_where.forget()


def q_of(params: dict[str, str]) -> Q:
    return observation_filter(parse_form(query_params(params)))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="kept on PostgreSQL only")
@pytest.mark.parametrize("params", SEARCHES)
def test_the_kept_clause_is_a_fresh_compilation_of_the_same_search(params):
    first = search_where.where_of(Observation, q_of(params))
    again = search_where.where_of(Observation, q_of(params))  # a new Q, the same search

    assert first == again == search_where.compile_where(Observation, q_of(params))
    assert len(search_where._kept) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="kept on PostgreSQL only")
def test_each_search_keeps_its_own_clause():
    clauses = [search_where.where_of(Observation, q_of(params)) for params in SEARCHES]

    assert len(search_where._kept) == len(SEARCHES)
    assert len({(sql, repr(params)) for sql, params in clauses}) == len(SEARCHES)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (Q(band_mask=2), Q(band_mask=2.0)),  # equal for Q.__eq__, not for the database
        (Q(band_mask=2), Q(band_mask=True)),
        (Q(s_ra__gt=1), Q(s_ra__gte=1)),
        (Q(s_ra=1) & Q(s_dec=2), Q(s_ra=1) | Q(s_dec=2)),
        (Q(s_ra=1), ~Q(s_ra=1)),
        (Q(band_mask__in=[1, 2]), Q(band_mask__in=[2, 1])),
        # A lookup's Django identity leaves its own options out: case sensitivity here.
        (
            Q(Like(F("target_name"), "NGC*", case_sensitive=True)),
            Q(Like(F("target_name"), "NGC*", case_sensitive=False)),
        ),
        (
            Q(Like(F("target_name"), "NGC*", wildcards=True)),
            Q(Like(F("target_name"), "NGC*", wildcards=False)),
        ),
        (
            Q(RawSQL("s_ra > %s", (1,), output_field=BooleanField())),
            Q(RawSQL("s_ra > %s", (1.5,), output_field=BooleanField())),
        ),
    ],
)
def test_searches_that_differ_never_share_a_key(one, other):
    assert search_where.fingerprint(one) != search_where.fingerprint(other)


def test_the_same_search_built_twice_has_one_key():
    for params in SEARCHES:
        assert search_where.fingerprint(q_of(params)) == search_where.fingerprint(q_of(params))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="kept on PostgreSQL only")
def test_a_search_with_a_queryset_inside_is_compiled_every_time_not_kept():
    abstract = q_of({"project_abstract": "protostellar outflows"})  # a subquery of projects
    for q in (abstract, Q(project__in=Project.objects.filter(title__icontains="disk"))):
        assert search_where.where_of(Observation, q) == search_where.compile_where(Observation, q)
    assert not search_where._kept


@pytest.mark.skipif(connection.vendor != "postgresql", reason="kept on PostgreSQL only")
def test_the_oldest_search_goes_when_the_process_keeps_too_many(monkeypatch):
    monkeypatch.setattr(search_where, "MAX_SEARCHES", 2)
    for n in range(3):
        search_where.where_of(Observation, Q(band_mask=n))

    assert len(search_where._kept) == 2
    kept = [key[2] for key in search_where._kept]
    assert search_where.fingerprint(Q(band_mask=0)) not in kept
