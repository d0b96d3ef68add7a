"""Logging in: the Django way, throttled by django-axes per (account, address) and per address
on every login form, unlocked by an admin, reset by email."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def login(client, username, password, *, address="127.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_a_member_logs_in_and_out(client):
    UserFactory(username="alice")
    assert login(client, "alice", DEFAULT_PASSWORD).status_code == 302
    assert client.get("/access/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/access/").status_code == 302


def test_repeated_failures_are_throttled_even_with_the_right_password(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="bob")
    assert [login(client, "bob", "wrong").status_code for _ in range(3)] == [200, 200, 429]
    response = login(client, "bob", DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts; try again in 15 minutes" in response.text
    assert "_auth_user_id" not in client.session


def test_failures_from_another_address_do_not_lock_the_member_out(client):
    """5 failures from 127.0.0.3 must not block the right password from 127.0.0.1."""
    UserFactory(username="bob")
    for _ in range(5):
        login(client, "bob", "wrong", address="127.0.0.3")
    assert login(client, "bob", DEFAULT_PASSWORD, address="127.0.0.3").status_code == 429
    assert login(client, "bob", DEFAULT_PASSWORD, address="127.0.0.1").status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out(client):
    for name in ("u1", "u2", "u3", "u4", "u5", "victim"):
        UserFactory(username=name)
    for name in ("u1", "u2", "u3", "u4", "u5"):
        login(client, name, "wrong", address="10.0.0.9")
    assert login(client, "victim", DEFAULT_PASSWORD, address="10.0.0.9").status_code == 429
    assert login(client, "victim", DEFAULT_PASSWORD, address="10.0.0.10").status_code == 302


def test_the_admin_login_is_throttled_like_the_portals(client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    statuses = [
        client.post(
            "/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="10.1.1.1"
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    response = client.post(
        "/admin/login/",
        {"username": "root", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.1.1.1",
    )
    assert response.status_code == 429
    # The same count covers every login form.
    assert login(client, "root", DEFAULT_PASSWORD, address="10.1.1.1").status_code == 429


def test_behind_the_configured_proxy_the_forwarded_address_counts(client, settings):
    settings.LOGIN_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    UserFactory(username="bob")
    for _ in range(5):
        client.post(
            "/accounts/login/",
            {"username": "bob", "password": "wrong"},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR="127.0.0.3",
        )
    # Same proxy, another client: not locked out; a forged left-most entry changes nothing.
    ok = client.post(
        "/accounts/login/",
        {"username": "bob", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="127.0.0.3, 127.0.0.1",
    )
    assert ok.status_code == 302
    client.logout()
    locked = client.post(
        "/accounts/login/",
        {"username": "bob", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="127.0.0.1, 127.0.0.3",
    )
    assert locked.status_code == 429


def test_an_admin_unlocks_a_locked_out_member(client):
    from axes.models import AccessAttempt

    UserFactory(username="bob")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(5):
        login(client, "bob", "wrong")
    assert login(client, "bob", DEFAULT_PASSWORD).status_code == 429
    staff = Client()
    staff.force_login(admin)
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert login(client, "bob", DEFAULT_PASSWORD).status_code == 302


def test_no_password_reaches_the_attempt_log(client):
    from axes.models import AccessAttempt

    UserFactory(username="bob")
    login(client, "bob", "hunter2-secret")
    assert "hunter2-secret" not in str(list(AccessAttempt.objects.values()))


def test_password_reset_sends_an_email_with_a_link(client):
    UserFactory(username="carol", email="carol@lab.example.org")
    response = client.post("/accounts/password_reset/", {"email": "carol@lab.example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


def test_no_open_sign_up(client):
    assert client.get("/accounts/signup/").status_code in (302, 404)
