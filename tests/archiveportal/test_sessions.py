"""Sessions and the signed-in member, read through compiled statements (archiveportal/sessions.py),
mean exactly what Django's mean: a logout, an expiry, a password change or a deactivated
account ends a session on its next request, every other session of the member stays as it
was, and pages are served with Redis down (sessions never touch the cache)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from archiveportal.sessions import PortalModelBackend, SessionStore
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/access/"  # any page that needs a member


def _signed_in(username: str = "carol") -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def _same_cookie(client: Client) -> Client:
    """A second browser holding the first one's session cookie (a copied or stolen cookie)."""
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return other


def _is_signed_in(client: Client) -> bool:
    response = client.get(PAGE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_the_portal_uses_the_compiled_reads():
    assert settings.SESSION_ENGINE == "archiveportal.sessions"
    assert "archiveportal.sessions.PortalModelBackend" in settings.AUTHENTICATION_BACKENDS
    assert "django.contrib.auth.backends.ModelBackend" not in settings.AUTHENTICATION_BACKENDS


def test_a_logged_in_member_reads_as_the_orm_reads_them():
    user = UserFactory(username="carol", email="carol@example.org", is_staff=True)
    user.last_login = timezone.now()
    user.save()

    read = PortalModelBackend().get_user(user.pk)

    orm = get_user_model().objects.get(pk=user.pk)
    fields = [f.attname for f in get_user_model()._meta.concrete_fields]
    assert {f: getattr(read, f) for f in fields} == {f: getattr(orm, f) for f in fields}
    assert read._state.adding is False and read._state.db == "default"


def test_an_unknown_or_inactive_member_is_nobody():
    user = UserFactory(username="carol", is_active=False)
    assert PortalModelBackend().get_user(user.pk) is None
    assert PortalModelBackend().get_user(user.pk + 1000) is None


def test_a_session_reads_back_what_was_written():
    store = SessionStore()
    store["basket"] = ["uid://A001/X1/X1"]
    store.create()

    assert SessionStore(store.session_key).load() == {"basket": ["uid://A001/X1/X1"]}


def test_an_expired_or_unknown_session_reads_as_empty_and_drops_its_key():
    store = SessionStore()
    store["x"] = 1
    store.create()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(store.session_key)
    unknown = SessionStore("z" * 32)

    assert expired.load() == {} and expired.session_key is None
    assert unknown.load() == {} and unknown.session_key is None


def test_logging_out_ends_the_session_for_every_holder_of_its_cookie():
    UserFactory(username="carol")
    client = _signed_in()
    copy = _same_cookie(client)
    assert _is_signed_in(copy)

    client.post("/accounts/logout/")

    assert not _is_signed_in(client)
    assert not _is_signed_in(copy)


def test_logging_out_leaves_the_members_other_sessions_alone():
    UserFactory(username="carol")
    laptop, desktop = _signed_in(), _signed_in()

    laptop.post("/accounts/logout/")

    assert _is_signed_in(desktop)


def test_an_expired_session_is_signed_out_on_its_next_request():
    UserFactory(username="carol")
    client = _signed_in()
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    assert not _is_signed_in(client)


def test_a_changed_password_signs_out_the_members_other_sessions_but_not_this_one():
    UserFactory(username="carol")
    here, elsewhere = _signed_in(), _signed_in()

    response = here.post(
        "/accounts/password_change/",
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "a new long passphrase 93",
            "new_password2": "a new long passphrase 93",
        },
    )

    assert response.status_code == 302
    assert _is_signed_in(here)
    assert not _is_signed_in(elsewhere)


def test_a_password_set_by_an_admin_signs_out_every_session():
    user = UserFactory(username="carol")
    client = _signed_in()

    user.set_password("set by the admin 71")
    user.save()

    assert not _is_signed_in(client)


def test_a_deactivated_member_is_signed_out_on_their_next_request():
    user = UserFactory(username="carol")
    client = _signed_in()

    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    assert not _is_signed_in(client)


def test_with_redis_down_members_sign_in_browse_and_sign_out(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "archiveportal.cache.PortalRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    UserFactory(username="carol")
    client = _signed_in()

    assert _is_signed_in(client)
    assert client.get("/aq/").status_code == 200
    client.post("/accounts/logout/")
    assert not _is_signed_in(client)
