"""Security headers from the environment, a strict CSP that the templates keep, a plain 404."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def settings_under(env: dict) -> dict:
    """The settings module as a fresh process reads it under ``env``."""
    code = (
        "import json, archiveportal.settings as s; print(json.dumps({"
        "'ssl': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS, "
        "'proxy': s.SECURE_PROXY_SSL_HEADER, "
        "'csp': getattr(s, 'CONTENT_SECURITY_POLICY', None) is not None, "
        "'csp_ro': getattr(s, 'CONTENT_SECURITY_POLICY_REPORT_ONLY', None) is not None}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "CSP_", "DEBUG"))}
    base.pop("PORTAL_BASE_URL", None)
    base.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_over_https_redirects_and_sends_hsts():
    found = settings_under(
        {
            "DATABASE_URL": "postgres://u@db/x",
            "PORTAL_BASE_URL": "https://portal.example.org",
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        }
    )
    assert found == {
        "ssl": True,
        "hsts": 31_536_000,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "csp": True,
        "csp_ro": False,
    }


@pytest.mark.parametrize(
    "env",
    [
        {"PORTAL_BASE_URL": "https://portal.example.org"},  # embedded: no DATABASE_URL
        {"DATABASE_URL": "postgres://u@db/x", "DEBUG": "1", "PORTAL_BASE_URL": "https://p.org"},
        {"DATABASE_URL": "postgres://u@db/x", "PORTAL_BASE_URL": "http://127.0.0.1:8000"},
    ],
)
def test_https_redirect_and_hsts_are_off_in_embedded_debug_and_plain_http(env):
    found = settings_under(env)
    assert (found["ssl"], found["hsts"], found["proxy"]) == (False, 0, None)


def test_each_security_setting_can_be_set_from_the_environment():
    found = settings_under(
        {
            "DATABASE_URL": "postgres://u@db/x",
            "SECURE_SSL_REDIRECT": "1",
            "SECURE_HSTS_SECONDS": "60",
            "CSP_REPORT_ONLY": "1",
        }
    )
    assert (found["ssl"], found["hsts"], found["csp"], found["csp_ro"]) == (True, 60, False, True)


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
    # 'wasm-unsafe-eval' lets the vendored Aladin Lite compile its WebAssembly; it allows no
    # eval() of JavaScript and no inline script.
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in policy.split()
    assert set(script_src) == {"'self'", "'wasm-unsafe-eval'"}
    assert "frame-ancestors 'none'" in policy


def test_no_template_has_an_inline_script_or_event_handler():
    """``script-src 'self'`` holds only while every script is a file and no tag has on*=."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                offenders.append(f"{path}: {tag}")
        if re.search(r"<[^>]+\son[a-z]+\s*=", text) or "hx-on" in text or "js:" in text:
            offenders.append(f"{path}: inline handler")
    assert offenders == []


def test_an_unknown_address_gets_a_plain_404_even_in_debug(client, settings):
    """Embedded mode runs with DEBUG on: its 404 must not list the URLconf to anyone."""
    settings.DEBUG = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.text
    for leak in ("URLconf", "admin/", "dataPortal", "api/access", "Django tried"):
        assert leak not in response.text
    view_404 = client.get("/aq/project/NO.SUCH.CODE/")
    assert view_404.status_code in (302, 404)
    assert "Django tried" not in view_404.text and "Raised by" not in view_404.text
