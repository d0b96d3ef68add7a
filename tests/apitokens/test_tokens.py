"""Personal API tokens: hashed at rest, shown once, scoped, expiring; no admin page shows one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from apitokens import services
from apitokens.models import ApiToken
from archiveportal import clock
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _create_on_the_page(client, **data) -> tuple[object, str]:
    response = client.post("/access/token/", {"scopes": ["download"], **data})
    found = re.search(r'<pre id="new-token">(apk_[\w-]+)</pre>', response.text)
    return response, found.group(1) if found else ""


def test_the_key_is_stored_only_as_a_hash(client):
    member = UserFactory(username="pi")
    client.force_login(member)
    _, key = _create_on_the_page(client)
    assert key
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM apitokens_apitoken")
        stored = repr(cursor.fetchall())
    assert key not in stored
    assert key[10:20] not in stored
    assert ApiToken.objects.get().digest == services.digest_of(key)


def test_admin_never_sees_a_token_key():
    pi = UserFactory(username="pi")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    owner = Client()
    owner.force_login(pi)
    _, key = _create_on_the_page(owner)
    staff = Client()
    staff.force_login(admin)
    token = ApiToken.objects.get()
    pages = [
        "/admin/",
        "/admin/apitokens/apitoken/",
        f"/admin/apitokens/apitoken/{token.pk}/change/",
        f"/admin/auth/user/{pi.pk}/change/",
        f"/admin/auth/user/{pi.pk}/delete/",
    ]
    for url in pages:
        response = staff.get(url)
        assert response.status_code == 200, url
        assert key not in response.text
        assert key[:10] not in response.text, "even the key's prefix stays off the admin"
        assert token.digest not in response.text
    # rest_framework.authtoken, which showed whole keys, is gone.
    assert staff.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert staff.get("/admin/apitokens/apitoken/add/").status_code == 403


def test_an_admin_may_revoke_a_token_but_not_use_or_create_one():
    pi = UserFactory(username="pi")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    token, key = services.issue(user=pi, scopes=["read"])
    staff = Client()
    staff.force_login(admin)
    response = staff.post(
        "/admin/apitokens/apitoken/",
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = Client().get("/api/observations/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401


def test_the_token_page_shows_scopes_and_expiry_and_revokes(client):
    member = UserFactory(username="pi")
    client.force_login(member)
    with clock.frozen(datetime(2026, 6, 1, tzinfo=UTC)):
        _, key = _create_on_the_page(
            client, scopes=["read", "delegations"], name="cluster", expires_on="2026-07-01"
        )
        token = ApiToken.objects.get()
        assert token.scopes == ["delegations", "read"]
        assert token.expires_at == datetime(2026, 7, 1, tzinfo=UTC)
        page = client.get("/access/token/").text
        assert "cluster" in page and "2026-07-01" in page and key not in page
        client.post(f"/access/token/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_bad_token_form_input_is_a_400_naming_the_field(client):
    member = UserFactory(username="pi")
    client.force_login(member)
    no_scope = client.post("/access/token/", {"name": "x"})
    assert no_scope.status_code == 400
    assert "It may: This field is required." in no_scope.text
    past = client.post("/access/token/", {"scopes": ["read"], "expires_on": "2001-01-01"})
    assert past.status_code == 400
    assert "Until (optional): The end date must be in the future." in past.text
    nul = client.post("/access/token/", {"scopes": ["read"], "name": "a\x00b"})
    assert nul.status_code == 400
    assert not ApiToken.objects.exists()


def test_another_members_token_cannot_be_revoked_by_me(client):
    owner = UserFactory(username="owner")
    token, _ = services.issue(user=owner, scopes=["read"])
    client.force_login(UserFactory(username="other"))
    assert client.post(f"/access/token/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_header_with_garbage_is_a_401_not_a_500():
    for header in ("Token", "Token a b", "Token \xff\xfe"):
        response = Client().get("/api/observations/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        response = Client().get("/dataPortal/x.tar", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
    # A NUL never gets as far as the token check: the input guard names the header.
    for url in ("/api/observations/", "/dataPortal/x.tar"):
        response = Client().get(url, HTTP_AUTHORIZATION="Token apk_\x00")
        assert response.status_code == 400
        assert "Authorization" in response.content.decode()


def test_an_api_view_that_declares_no_scope_refuses_tokens():
    """Fail closed: DRF's default permission refuses any token unless the view names a scope."""
    from rest_framework.test import APIRequestFactory

    from apitokens.permissions import TokenScope

    token, _ = services.issue(user=UserFactory(username="pi"), scopes=["read"])
    request = APIRequestFactory().get("/")
    request.auth = token
    assert TokenScope().has_permission(request, None) is False
    request.auth = None
    assert TokenScope().has_permission(request, None) is True


def test_expiry_is_checked_at_the_instant():
    instant = datetime(2026, 6, 1, 12, tzinfo=UTC)
    with clock.frozen(instant - timedelta(days=1)):
        token, key = services.issue(
            user=UserFactory(username="pi"), scopes=["read"], expires_at=instant
        )
    with clock.frozen(instant - timedelta(seconds=1)):
        assert services.check_key(key) == token
    with clock.frozen(instant):
        with pytest.raises(services.TokenRefused, match="expired at 2026-06-01 12:00 UTC"):
            services.check_key(key)


def test_legacy_plain_text_tokens_are_hashed_by_the_migration():
    import importlib

    from django.apps import apps

    module = importlib.import_module("apitokens.migrations.0001_hashed_scoped_tokens")
    user = UserFactory(username="legacy")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, "
            "created timestamp)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, NULL)", ["a" * 40, user.pk])
    schema_editor = type("E", (), {"connection": connection})()
    module.hash_legacy_tokens(apps, schema_editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert services.check_key("a" * 40).user == user
