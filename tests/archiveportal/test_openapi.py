"""The API's OpenAPI schema covers every endpoint, and schemathesis finds no server error.

schemathesis generates requests from ``/api/schema/`` (valid and invalid bodies, parameters and
path ids) and sends them to the real WSGI application on the test database, authenticated with a
member's token; the only check is the one that matters here: no 5xx.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from schemathesis.checks import not_a_server_error

from queries.fields import FIELDS
from tests.factories import MemberOUSFactory, ObservationFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db


def _api_routes(patterns=None, prefix: str = "") -> set[str]:
    """Every URL route under /api/ in the URLconf, as the schema spells it (``{id}``)."""
    routes: set[str] = set()
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes |= _api_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            routes.add("/" + route)
    routes -= {"/api/schema/", "/api/docs/"}
    return {r.replace("<uuid:pk>", "{id}").replace("<int:pk>", "{id}") for r in routes}


@pytest.fixture
def schema_document() -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_and_covers_every_api_endpoint(schema_document):
    assert schema_document["openapi"].startswith("3.")
    assert set(schema_document["paths"]) == _api_routes()
    assert len(schema_document["paths"]) >= 5


def test_the_observations_endpoint_documents_every_search_parameter(schema_document):
    operation = schema_document["paths"]["/api/observations/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {f.name for f in FIELDS} | {"page", "sort"}
    band = next(p for p in operation["parameters"] if p["name"] == "band_list")
    assert "Band" in band["description"]


def test_every_operation_says_how_to_authenticate(schema_document):
    assert "tokenAuth" in schema_document["components"]["securitySchemes"]
    for methods in schema_document["paths"].values():
        for operation in methods.values():
            assert {"tokenAuth": []} in operation["security"]


def test_the_docs_page_is_served_without_a_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "cdn" not in response.text.lower()
    assert "/static/drf_spectacular_sidecar/" in response.text


@pytest.fixture
def in_process_wsgi(db, settings):
    """The real WSGI application runs in this thread, inside the test's transaction: like
    Django's test client, keep the request signals from closing the test's connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    settings.QUERIES_RESOLVER_ONLINE = False  # source names from the cache only: no network
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def member_token(db) -> dict[str, str]:
    member = UserFactory(username="schemathesis_member")
    # Something to find, so generated searches also run over rows.
    ObservationFactory(member_ous=MemberOUSFactory(uid="uid://A001/X2/X2"))
    return {"Authorization": f"Token {token_for(member)}"}


# Loaded once at collection from the application itself (the schema view needs no database).
# (schemathesis.pytest.from_fixture would load it per test, but it breaks on pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@schema.parametrize()
def test_no_generated_request_gets_a_server_error(case, in_process_wsgi, member_token):
    case.call_and_validate(headers=member_token, checks=[not_a_server_error])


@schema.parametrize()
def test_no_generated_anonymous_request_gets_a_server_error(case, in_process_wsgi):
    case.call_and_validate(checks=[not_a_server_error])
