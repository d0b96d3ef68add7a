"""Generated input (Hypothesis) into every form and API body: a 2xx/3xx or a 4xx, never a 5xx.

Values mix ALMA-syntax fragments, arbitrary Unicode (NUL and lone surrogates included) and, for
JSON bodies, every JSON type nested anywhere, so the forms and endpoints meet what a browser, a
script or an attacker could send. Runs on the suite's database (PostgreSQL in ``make test``,
where NUL characters used to turn into 500s).
"""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from queries.errors import QueryInputErrors
from queries.fields import FIELDS, parse_form
from queries.filters import observation_filter
from queries.models import Observation, SavedSearch
from tests.factories import MemberOUSFactory, ObservationFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

FIELD_NAMES = [f.name for f in FIELDS]
PIECES = [*"0123456789.:-+ ,|!()<>=*?'\"%_\\", "..", "null", "arcsec", "deg", "\x00", "é"]
syntax_like = st.lists(st.sampled_from(PIECES), max_size=16).map("".join)
text = syntax_like | st.text(max_size=30)
# Examples come from the profile in tests/conftest.py (derandomized): enough to reach odd
# shapes without making the suite slow.
FORM_EXAMPLES = settings(max_examples=60)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture
def member(settings):
    settings.QUERIES_RESOLVER_ONLINE = False  # source names from the cache only: no network
    user = UserFactory(username="generated_member")
    project = ProjectFactory(code="2019.1.00042.S", pi_userid="generated_member")
    ObservationFactory(member_ous=MemberOUSFactory(uid="uid://A001/X42/X1", project=project))
    return user


@pytest.fixture
def client(member):
    client = Client(raise_request_exception=False)
    client.force_login(member)
    return client


def _no_server_error(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:400])


@FORM_EXAMPLES
@given(params=st.dictionaries(st.sampled_from(FIELD_NAMES), text, max_size=4))
def test_generated_search_constraints_parse_or_name_the_field_and_run_on_the_database(
    member, params
):
    try:
        parsed, named = parse_form(params), set()
    except QueryInputErrors as exc:
        parsed, named = None, set(exc.errors)
    assert named <= set(params)
    if parsed is not None:
        Observation.objects.filter(observation_filter(parsed)).count()


@FORM_EXAMPLES
@given(
    params=st.dictionaries(st.sampled_from([*FIELD_NAMES, "page", "sort", "format"]), text),
    view=st.sampled_from(["raw", "project", ""]) | text,
)
def test_the_search_page_and_observations_api_never_fail(client, params, view):
    _no_server_error(client.get("/aq/", {**params, "result_view": view}))
    _no_server_error(client.get("/aq/", params, HTTP_HX_REQUEST="true"))
    _no_server_error(client.get("/api/observations/", params))


@FORM_EXAMPLES
@given(
    name=text,
    description=text,
    query=st.dictionaries(st.sampled_from(FIELD_NAMES), text).map(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items())
    )
    | text,
    visibility=st.sampled_from(["private", "lab"]) | text,
    rename=text,
)
def test_the_saved_search_forms_never_fail(
    client, member, name, description, query, visibility, rename
):
    data = {"name": name, "description": description, "query": query, "visibility": visibility}
    _no_server_error(client.post("/saved/new/", data))
    saved = SavedSearch.objects.filter(owner=member).first() or SavedSearch.objects.create(
        owner=member, name="generated", params={}
    )
    _no_server_error(client.post(f"/saved/{saved.pk}/rename/", {"name": rename}))


@FORM_EXAMPLES
@given(
    mous=st.lists(st.sampled_from(["uid://A001/X42/X1"]) | text, max_size=3),
    project=st.lists(st.sampled_from(["2019.1.00042.S"]) | text, max_size=2),
    category=st.lists(st.sampled_from(["product", "raw", "auxiliary"]) | text, max_size=3),
    title=text,
    layout=st.sampled_from(["tree", "flat"]) | text,
)
def test_the_request_builder_never_fails(client, mous, project, category, title, layout):
    query = {"mous": mous, "project": project, "category": category}
    _no_server_error(client.get("/requests/new/", query))
    _no_server_error(client.post("/requests/new/", {**query, "title": title, "layout": layout}))


@FORM_EXAMPLES
@given(
    delegate=st.sampled_from(["generated_member", "nobody"]) | text,
    project=st.sampled_from(["", "2019.1.00042.S"]) | text,
    expires_on=st.sampled_from(["", "2099-01-01", "1999-01-01"]) | text,
)
def test_the_grant_form_never_fails(client, delegate, project, expires_on):
    data = {"delegate": delegate, "project": project, "expires_on": expires_on}
    _no_server_error(client.post("/access/grant/", data))


@FORM_EXAMPLES
@given(
    body=json_values
    | st.dictionaries(st.sampled_from([*FIELD_NAMES, "live", "result_view"]) | text, json_values)
)
def test_the_search_api_never_fails_on_any_json_body(client, body):
    _no_server_error(client.post("/api/searches/", body, content_type="application/json"))


@FORM_EXAMPLES
@given(
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "delegate": st.sampled_from(["generated_member", "nobody"]) | json_values,
            "project": st.sampled_from(["2019.1.00042.S"]) | json_values,
            "expires_at": st.sampled_from(["2099-01-01T00:00:00Z"]) | json_values,
        },
    )
)
def test_the_delegation_api_never_fails_on_any_json_body(client, body):
    _no_server_error(client.post("/api/access/delegations/", body, content_type="application/json"))
