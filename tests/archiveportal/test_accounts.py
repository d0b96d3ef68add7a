"""Logging in: the Django way, throttled after repeated failures, reset by email."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_a_member_logs_in_and_out(client):
    UserFactory(username="alice")
    assert login(client, "alice", DEFAULT_PASSWORD).status_code == 302
    assert client.get("/access/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/access/").status_code == 302


def test_repeated_failures_are_throttled_even_with_the_right_password(client, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    UserFactory(username="bob")
    for _ in range(3):
        assert login(client, "bob", "wrong").status_code == 200
    response = login(client, "bob", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert "Too many failed attempts; try again in 15 minutes." in response.text
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_an_email_with_a_link(client):
    UserFactory(username="carol", email="carol@lab.example.org")
    response = client.post("/accounts/password_reset/", {"email": "carol@lab.example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


def test_no_open_sign_up(client):
    assert client.get("/accounts/signup/").status_code in (302, 404)
