"""Health reports database and broker truthfully and needs no login."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_health_view_is_public_and_reports_database_and_broker(client):
    response = client.get("/health/?workers=0")
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_health_view_fails_when_the_broker_is_unreachable(client, monkeypatch):
    from archiveportal.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/health/?workers=0")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_health_command_prints_each_check(capsys):
    call_command("health", "--no-workers")
    out = capsys.readouterr().out
    assert "ok   database" in out and "ok   broker" in out


def test_every_page_but_login_and_health_requires_login(client):
    assert client.get("/aq/").status_code == 302
    assert client.get("/admin/").status_code == 302
    assert client.get("/accounts/login/").status_code == 200
