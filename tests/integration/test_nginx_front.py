"""A real nginx with the repository's config (``deploy/nginx/portal.conf.template``) in front of
the portal on 127.0.0.1: files the portal allows come from nginx itself, with Range; refused
ones are the portal's 404; the internal location cannot be asked for directly.

Needs the ``nginx`` binary (Debian's package, which ``bin/test`` installs like chromium); without
it the tests fail and say what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from archiveportal import clock
from downloads import serving
from tests.downloads.access_matrix import NOW, build_world, member_name, write_lab_tar
from tests.factories import token_for

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "portal.conf.template"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
PREFIX = "/_protected/labdata/"

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_template(values: dict[str, str]) -> str:
    """What the nginx image's envsubst makes of the template: ``${PORTAL_*}`` replaced, every
    other ``$`` left to nginx; a variable the template names and ``values`` lacks is an error."""
    return re.sub(r"\$\{(PORTAL_[A-Z_]+)\}", lambda m: values[m.group(1)], TEMPLATE.read_text())


@pytest.fixture
def nginx_front(live_server, settings, tmp_path):
    """nginx on a free 127.0.0.1 port proxying to the live server, files through X-Accel."""
    if NGINX is None:
        pytest.fail("these tests need nginx: apt-get install nginx (bin/test does it as root)")
    settings.DOWNLOADS_FILE_SERVING = "x-accel"
    settings.DOWNLOADS_ACCEL_PREFIX = PREFIX
    settings.LAB_DATA_ROOT = tmp_path / "lab"
    settings.LAB_DATA_ROOT.mkdir()
    static = tmp_path / "static"
    static.mkdir()
    (static / "front.css").write_text("body { color: teal; }\n")
    port = _free_port()
    upstream = live_server.url.removeprefix("http://")
    server_block = tmp_path / "portal.conf"
    server_block.write_text(
        render_template(
            {
                "PORTAL_UPSTREAM": upstream,
                "PORTAL_LISTEN": f"127.0.0.1:{port}",
                "PORTAL_STATIC_ROOT": str(static),
                "PORTAL_LAB_DATA_ROOT": str(settings.LAB_DATA_ROOT),
                "PORTAL_ACCEL_PREFIX": PREFIX,
            }
        )
    )
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    mime = Path("/etc/nginx/mime.types")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "\n".join(
            [
                # As root, nginx's workers would drop to "nobody", who cannot read tmp_path.
                "user root;" if os.geteuid() == 0 else "",
                "daemon off;",  # the process started here is nginx's master: stopped by its pid
                "worker_processes 1;",
                f"pid {tmp_path / 'nginx.pid'};",
                f"error_log {tmp_path / 'error.log'} warn;",
                "events { worker_connections 64; }",
                "http {",
                f"  include {mime};" if mime.exists() else "",
                "  default_type application/octet-stream;",
                f"  access_log {tmp_path / 'access.log'};",
                *(
                    f"  {kind}_temp_path {temp / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
                ),
                f"  include {server_block};",
                "}",
            ]
        )
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read()  # a config error ends it
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        yield {"base": f"http://127.0.0.1:{port}", "lab": settings.LAB_DATA_ROOT}
    finally:
        process.terminate()  # nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def world(transactional_db, nginx_front):
    with clock.frozen(NOW):
        built = build_world()
    built.lab_bytes = {}
    for state, file in built.files.items():
        data = bytes(range(256)) * 40 + state.encode()
        (nginx_front["lab"] / file.name).write_bytes(data)
        built.lab_bytes[state] = data
    return built


def _get(front, world, role: str, path: str, **headers) -> requests.Response:
    key = token_for(world.user(role))
    with clock.frozen(NOW):
        return requests.get(
            f"{front['base']}{path}",
            headers={"Authorization": f"Token {key}", **headers},
            timeout=20,
        )


def test_an_allowed_file_comes_from_nginx_with_range(nginx_front, world):
    name = world.files["proprietary"].name
    data = world.lab_bytes["proprietary"]
    whole = _get(nginx_front, world, "pi", f"/dataPortal/{name}")
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert whole.headers["Content-Type"] == "application/octet-stream"
    assert "X-Accel-Redirect" not in whole.headers  # nginx keeps it to itself
    part = _get(nginx_front, world, "pi", f"/dataPortal/{name}", Range="bytes=100-199")
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = _get(nginx_front, world, "pi", f"/dataPortal/{name}", Range="bytes=-7")
    assert tail.content == data[-7:]


def test_a_refused_file_is_the_portals_404_through_nginx(nginx_front, world):
    file = world.files["proprietary"]
    refused = _get(nginx_front, world, "member", f"/dataPortal/{file.name}")
    assert refused.status_code == 404
    assert refused.text == serving.NOT_FOUND_MESSAGE
    assert "X-Accel-Redirect" not in refused.headers
    assert world.lab_bytes["proprietary"][:64] not in refused.content


def test_the_internal_location_cannot_be_asked_for_directly(nginx_front, world):
    name = world.files["public"].name
    direct = _get(nginx_front, world, "pi", f"{PREFIX}{name}")
    assert direct.status_code == 404
    assert world.lab_bytes["public"][:64] not in direct.content


def test_static_files_come_from_nginx(nginx_front):
    response = requests.get(f"{nginx_front['base']}/static/front.css", timeout=10)
    assert response.status_code == 200
    assert response.text == "body { color: teal; }\n"
    assert "Server" not in response.headers or "nginx/" not in response.headers["Server"]


def test_a_tar_member_is_served_by_the_portal_through_nginx_with_its_own_range(nginx_front, world):
    write_lab_tar(nginx_front["lab"], world)
    tar = world.files["public"].name
    member = member_name("public")
    response = _get(nginx_front, world, "member", f"/dataPortal/{tar}/{member}", Range="bytes=0-5")
    assert response.status_code == 206
    assert response.content == b"public"
