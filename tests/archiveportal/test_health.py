"""Health reports database and broker truthfully, up/down only to strangers, details to staff;
every page shows a banner while the broker is down."""

import pytest
from django.core.management import call_command

from archiveportal import health
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BROKER_DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down(monkeypatch):
    from archiveportal.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER_DOWN)
    monkeypatch.setitem(app.conf, "broker_url", BROKER_DOWN)
    health.forget_broker_state()
    yield
    health.forget_broker_state()


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def test_health_tells_an_anonymous_caller_only_up_or_down(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_health_tells_an_anonymous_caller_down_without_saying_what(client, broker_down):
    response = client.get("/health/?workers=0")
    assert response.status_code == 503
    assert response.json() == {"ok": False}


def test_health_gives_staff_each_check(staff_client):
    body = staff_client.get("/health/?workers=0").json()
    assert body["ok"] is True
    assert body["checks"]["database"] == {"ok": True, "detail": "postgresql"}
    assert body["checks"]["broker"]["ok"] is True


def test_health_gives_staff_the_part_that_is_down(staff_client, broker_down):
    response = staff_client.get("/health/?workers=0")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_a_member_who_is_not_staff_learns_only_up_or_down(client):
    client.force_login(UserFactory())
    assert client.get("/health/?workers=0").json() == {"ok": True}


def test_pages_keep_answering_with_a_banner_while_the_broker_is_down(client, broker_down):
    client.force_login(UserFactory())
    page = client.get("/requests/")
    assert page.status_code == 200
    assert 'id="broker-banner"' in page.text
    assert "Background work is paused" in page.text


def test_no_banner_while_the_broker_answers(client):
    health.forget_broker_state()
    client.force_login(UserFactory())
    assert 'id="broker-banner"' not in client.get("/requests/").text


def test_health_command_prints_each_check(capsys):
    call_command("health", "--no-workers")
    out = capsys.readouterr().out
    assert "ok   database" in out and "ok   broker" in out


def test_every_page_but_login_and_health_requires_login(client):
    assert client.get("/aq/").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert client.get("/accounts/login/").status_code == 200
