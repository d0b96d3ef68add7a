"""Input no view can use gets a 400 naming the field, never a 500 (run on PostgreSQL, where a
NUL character in a query parameter made psycopg raise)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from queries.models import SavedSearch
from tests.factories import MemberOUSFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

NUL = "\x00"


@pytest.fixture
def member():
    return UserFactory(username="guard_member")


@pytest.fixture
def client(member):
    client = Client(raise_request_exception=False)
    client.force_login(member)
    return client


@pytest.fixture
def hierarchy():
    project = ProjectFactory(code="2017.1.00001.S")
    return MemberOUSFactory(uid="uid://A001/X1/X1", project=project)


def _assert_names(response, field: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    if response["Content-Type"].startswith("application/json"):
        assert field in response.json()["errors"], response.json()
        assert "NUL" in response.json()["errors"][field] or field == "body"
    else:
        assert f"- {field}:" in response.text, response.text


# (description, how to send it, the field the answer must name)
GET_CASES = [
    ("project page", "/aq/project/2017.1.0\x000001.S/", {}, "code"),
    ("member OUS page", "/aq/mous/uid://A001/X1/X\x001/", {}, "uid"),
    ("DataLink ID", "/datalink/sync", {"ID": "uid://A001/X1/X\x001"}, "ID"),
    ("dataPortal file name", "/dataPortal/a\x00b.tar", {}, "name"),
    ("request builder (GET)", "/requests/new/", {"mous": "uid://A001/X1/X\x001"}, "mous"),
    ("search page parameter", "/aq/", {"proposal_id": "2017\x00"}, "proposal_id"),
    ("API observations parameter", "/api/observations/", {"band_list": "3\x00"}, "band_list"),
    ("a parameter's name", "/aq/", {"x\x00": "1"}, "x\\x00"),
]


@pytest.mark.parametrize(
    ("path", "query", "field"), [c[1:] for c in GET_CASES], ids=[c[0] for c in GET_CASES]
)
def test_a_nul_in_a_url_or_query_parameter_is_a_400_naming_it(
    client, hierarchy, path, query, field
):
    _assert_names(client.get(path, query), field)


def test_a_nul_in_a_token_is_a_400_naming_the_header(hierarchy):
    response = Client(raise_request_exception=False).get(
        "/dataPortal/x.tar", HTTP_AUTHORIZATION="Token abc\x00def"
    )
    _assert_names(response, "Authorization header")
    api = Client(raise_request_exception=False).get(
        "/api/observations/", HTTP_AUTHORIZATION="Token abc\x00def"
    )
    _assert_names(api, "Authorization header")


def test_a_nul_in_the_session_cookie_is_a_400_naming_it():
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "abc\x00def"
    _assert_names(client.get("/aq/"), "sessionid cookie")


def test_a_nul_in_a_saved_search_name_is_a_400_naming_it(client, member):
    response = client.post("/saved/new/", {"name": "mine\x00", "query": "band_list=3"})
    _assert_names(response, "name")
    saved = SavedSearch.objects.create(owner=member, name="kept", params={"band_list": "3"})
    _assert_names(client.post(f"/saved/{saved.pk}/rename/", {"name": "x\x00"}), "name")
    assert SavedSearch.objects.get(pk=saved.pk).name == "kept"


def test_a_nul_in_the_request_builder_form_is_a_400_naming_it(client, hierarchy):
    response = client.post("/requests/new/", {"mous": "uid://A001/X1/X\x001", "title": "t"})
    _assert_names(response, "mous")


@pytest.mark.parametrize("field", ["delegate", "project", "expires_on"])
def test_a_nul_in_a_delegation_form_field_is_a_400_naming_it(client, field):
    data = {"delegate": "someone", "project": "", "expires_on": ""}
    data[field] = "x\x00"
    _assert_names(client.post("/access/grant/", data), field)


@pytest.mark.parametrize("field", ["delegate", "project", "expires_at"])
def test_a_nul_in_a_delegation_api_field_is_a_400_naming_it(client, field):
    body = {"delegate": "someone", field: "x\x00"}
    response = client.post("/api/access/delegations/", body, content_type="application/json")
    _assert_names(response, field)


def test_a_nul_in_a_search_api_field_is_a_400_naming_it(client):
    body = {"source_name_alma": "NGC\x001068", "band_list": "3"}
    response = client.post("/api/searches/", body, content_type="application/json")
    _assert_names(response, "source_name_alma")


def test_a_nul_in_a_nested_json_value_is_named_by_its_key_path(client):
    body = {"params": {"band_list": ["3", "x\x00"]}}
    response = client.post("/api/searches/", body, content_type="application/json")
    _assert_names(response, "params.band_list[1]")


def test_a_nul_in_the_login_form_is_a_400_naming_it():
    response = Client(raise_request_exception=False).post(
        "/accounts/login/", {"username": "a\x00", "password": "x"}
    )
    _assert_names(response, "username")


NOT_OBJECTS = ["[1, 2]", '"x"', "null", "3", "true", "[]"]


@pytest.mark.parametrize("body", NOT_OBJECTS)
@pytest.mark.parametrize("path", ["/api/searches/", "/api/access/delegations/"])
def test_a_json_body_that_is_not_an_object_is_a_400_naming_the_body(client, path, body):
    response = client.post(path, body, content_type="application/json")
    _assert_names(response, "body")
    assert "must be a JSON object" in response.json()["errors"]["body"]


def test_malformed_json_is_still_the_apis_own_400(client):
    response = client.post("/api/searches/", "{nope", content_type="application/json")
    assert response.status_code == 400


def test_ordinary_input_passes_the_guard(client, hierarchy):
    assert client.get("/aq/project/2017.1.00001.S/").status_code == 200
    response = client.post(
        "/api/searches/", json.dumps({"band_list": "3"}), content_type="application/json"
    )
    assert response.status_code == 201


def test_a_nul_inside_a_saved_searchs_query_string_is_a_400_naming_it(client):
    """The save form carries the search as a query string, so ``%00`` arrives still encoded."""
    response = client.post("/saved/new/", {"name": "mine", "query": "proposal_id=2017%00"})
    _assert_names(response, "query")
    assert not SavedSearch.objects.filter(name="mine").exists()
