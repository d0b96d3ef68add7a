"""``/dataPortal/`` behind a front server: after the access decision the portal hands an allowed
file to nginx (``X-Accel-Redirect``) or Apache/lighttpd (``X-Sendfile``) with an empty body; a
refused or unknown name gets the same 404 as without a front server and never the header, so
the file's place on disk reaches nobody who may not download it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client

from archiveportal import clock
from tests.downloads import test_serving
from tests.downloads.access_matrix import GRANTED_ROLES, NOW, ROLES, expected_allowed
from tests.downloads.test_serving import INVENTED, VOLATILE, _member_bytes, _member_url
from tests.factories import token_for

pytestmark = pytest.mark.django_db

# The access matrix's world with its lab cache, as /dataPortal/'s own tests build it.
world = test_serving.world
tar_world = test_serving.tar_world
outside = test_serving.outside

FRONT = ("X-Accel-Redirect", "X-Sendfile")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def x_accel(settings):
    settings.DOWNLOADS_FILE_SERVING = "x-accel"
    settings.DOWNLOADS_ACCEL_PREFIX = "/_protected/labdata/"
    return settings


def _client(world, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.user(role))
    return client


def _answer(response) -> tuple[int, bytes, dict]:
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
    return response.status_code, response.content, headers


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
@pytest.mark.parametrize(
    "state", ["public", "proprietary", "placeholder", "released_in_one_second"]
)
def test_with_x_accel_an_allowed_file_is_handed_to_nginx_and_a_refused_one_is_the_same_404(
    world, x_accel, role, state
):
    name = world.files[state].name
    client = _client(world, role)
    with clock.frozen(NOW):
        response = client.get(f"/dataPortal/{name}")
        head = client.head(f"/dataPortal/{name}")
        invented = client.get(f"/dataPortal/{INVENTED}")
    if expected_allowed(role, state):
        assert response.status_code == 200
        assert response["X-Accel-Redirect"] == f"/_protected/labdata/{name}"
        assert response.content == b""  # nginx sends the bytes, with Range
        assert response["Content-Disposition"] == f"attachment; filename={name}"
        assert head["X-Accel-Redirect"] == response["X-Accel-Redirect"]
    else:
        assert _answer(response) == _answer(invented)
        assert response.status_code == 404
        assert not any(h in response for h in FRONT)
        assert not any(h in head for h in FRONT)
        assert b"_protected" not in response.content


def test_a_refused_file_answers_exactly_as_it_does_without_a_front_server(world, settings):
    name = world.files["proprietary"].name
    client = _client(world, "member")
    with clock.frozen(NOW):
        settings.DOWNLOADS_FILE_SERVING = "django"
        plain = _answer(client.get(f"/dataPortal/{name}"))
        settings.DOWNLOADS_FILE_SERVING = "x-accel"
        accel = _answer(client.get(f"/dataPortal/{name}"))
    assert accel == plain


def test_without_a_session_or_token_nothing_is_handed_over(world, x_accel):
    with clock.frozen(NOW):
        response = Client().get(f"/dataPortal/{world.files['public'].name}")
    assert response.status_code == 401
    assert not any(h in response for h in FRONT)


def test_a_token_holder_is_handed_over_like_a_session(world, x_accel):
    key = token_for(world.user("pi"))
    name = world.files["proprietary"].name
    with clock.frozen(NOW):
        response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(f"/dataPortal/{name}")
    assert response["X-Accel-Redirect"] == f"/_protected/labdata/{name}"


def test_the_internal_prefix_is_a_setting(world, x_accel):
    x_accel.DOWNLOADS_ACCEL_PREFIX = "/internal/lab"
    name = world.files["public"].name
    with clock.frozen(NOW):
        response = _client(world, "member").get(f"/dataPortal/{name}")
    assert response["X-Accel-Redirect"] == f"/internal/lab/{name}"


def test_a_symlink_inside_the_cache_is_handed_over_by_its_real_place_in_the_cache(world, x_accel):
    name = world.files["public"].name
    real = x_accel.LAB_DATA_ROOT / "store" / "real file.tar"
    real.parent.mkdir()
    real.write_bytes(b"y")
    (x_accel.LAB_DATA_ROOT / name).unlink()
    os.symlink(real, x_accel.LAB_DATA_ROOT / name)
    with clock.frozen(NOW):
        response = _client(world, "member").get(f"/dataPortal/{name}")
    assert response["X-Accel-Redirect"] == "/_protected/labdata/store/real%20file.tar"


def test_a_symlink_out_of_the_cache_is_never_handed_over(world, x_accel, outside):
    name = world.files["public"].name
    (x_accel.LAB_DATA_ROOT / name).unlink()
    os.symlink(outside, x_accel.LAB_DATA_ROOT / name)
    with clock.frozen(NOW):
        response = _client(world, "member").get(f"/dataPortal/{name}")
    assert response.status_code == 404
    assert not any(h in response for h in FRONT)


def test_with_x_sendfile_the_header_is_the_files_real_path(world, settings):
    settings.DOWNLOADS_FILE_SERVING = "x-sendfile"
    name = world.files["public"].name
    with clock.frozen(NOW):
        response = _client(world, "member").get(f"/dataPortal/{name}")
    assert response["X-Sendfile"] == str((settings.LAB_DATA_ROOT / name).resolve())
    assert response.content == b""
    assert "X-Accel-Redirect" not in response


def test_a_tar_member_is_still_sent_by_the_portal_with_its_own_ranges(tar_world, x_accel):
    """nginx would apply the client's Range to the whole tar, not to the member inside it."""
    client = _client(tar_world, "member")
    with clock.frozen(NOW):
        response = client.get(_member_url(tar_world), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == _member_bytes()[:10]
    assert not any(h in response for h in FRONT)


@pytest.mark.parametrize("role", sorted(GRANTED_ROLES))
def test_a_granted_role_gets_a_proprietary_tar_member_from_the_portal(tar_world, x_accel, role):
    with clock.frozen(NOW):
        response = _client(tar_world, role).get(_member_url(tar_world, "proprietary"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _member_bytes("proprietary")


def test_an_unknown_file_serving_mode_stops_the_portal_with_the_accepted_values():
    env = {
        **os.environ,
        "DOWNLOADS_FILE_SERVING": "nginx",
        "DJANGO_SETTINGS_MODULE": "archiveportal.settings",
    }
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    assert "DOWNLOADS_FILE_SERVING='nginx': use django, x-accel or x-sendfile" in started.stderr


def test_the_compose_stack_puts_nginx_in_front_with_the_portals_own_prefix_and_cache():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    nginx, web = compose["services"]["nginx"], compose["services"]["web"]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+(-alpine)?", nginx["image"])  # pinned
    assert web["environment"]["DOWNLOADS_FILE_SERVING"] == "x-accel"
    env = nginx["environment"]
    assert env["PORTAL_ACCEL_PREFIX"] == web["environment"]["DOWNLOADS_ACCEL_PREFIX"]
    assert env["PORTAL_LAB_DATA_ROOT"] == web["environment"]["LAB_DATA_ROOT"]
    assert env["PORTAL_UPSTREAM"] == "web:8000"
    template = "./deploy/nginx/portal.conf.template:/etc/nginx/templates/default.conf.template:ro"
    assert template in nginx["volumes"]
    assert "ports" not in web  # every request goes through nginx
    text = (ROOT / "deploy" / "nginx" / "portal.conf.template").read_text()
    assert set(re.findall(r"\$\{(PORTAL_[A-Z_]+)\}", text)) <= set(env)
