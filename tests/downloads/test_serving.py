"""``/dataPortal/``: nothing to probe, and nothing outside the lab cache."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from archiveportal import clock
from downloads import services as request_service
from downloads import serving
from tests.downloads.access_matrix import NOW, build_world
from tests.factories import token_for

pytestmark = pytest.mark.django_db

INVENTED = "2025.1.00777.S_secretname_invented_001_of_001.tar"
# Headers that differ between any two responses, whatever they answer.
VOLATILE = {"Date", "Set-Cookie"}


@pytest.fixture
def world(settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "lab"
    settings.LAB_DATA_ROOT.mkdir()
    with clock.frozen(NOW):
        built = build_world()
    for file in built.files.values():
        (settings.LAB_DATA_ROOT / file.name).write_bytes(b"x" * 64)
    return built


def _as(world, role: str) -> Client:
    client = Client()
    client.force_login(world.user(role))
    return client


def _answer(response) -> tuple[int, bytes, dict]:
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
    return response.status_code, response.content, headers


@pytest.mark.parametrize("state", ["proprietary", "placeholder", "missing"])
def test_a_refused_name_and_an_invented_name_get_the_same_answer(world, state):
    client = _as(world, "member")
    with clock.frozen(NOW):
        refused = client.get(f"/dataPortal/{world.files[state].name}")
        invented = client.get(f"/dataPortal/{INVENTED}")
        refused_head = client.head(f"/dataPortal/{world.files[state].name}")
        invented_head = client.head(f"/dataPortal/{INVENTED}")
    assert refused.status_code == 404
    assert _answer(refused) == _answer(invented)
    assert _answer(refused_head) == _answer(invented_head)


def test_a_token_caller_cannot_tell_refused_from_invented_either(world):
    key = token_for(world.user("member"))
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    with clock.frozen(NOW):
        refused = client.get(f"/dataPortal/{world.files['proprietary'].name}")
        invented = client.get(f"/dataPortal/{INVENTED}")
    assert _answer(refused) == _answer(invented)


def test_the_pi_still_gets_the_proprietary_file(world):
    with clock.frozen(NOW):
        response = _as(world, "pi").get(f"/dataPortal/{world.files['proprietary'].name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"x" * 64


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"not the lab's to give")
    return secret


def _replace_with_symlink(path, target) -> None:
    path.unlink()
    os.symlink(target, path)


def test_a_symlink_out_of_the_lab_cache_is_refused(world, settings, outside):
    name = world.files["public"].name
    _replace_with_symlink(settings.LAB_DATA_ROOT / name, outside)
    with clock.frozen(NOW):
        response = _as(world, "member").get(f"/dataPortal/{name}")
    assert response.status_code == 404
    assert b"not the lab's to give" not in response.content
    assert serving.lab_file(name) is None


def test_a_relative_symlink_climbing_out_is_refused(world, settings, outside):
    name = world.files["public"].name
    _replace_with_symlink(settings.LAB_DATA_ROOT / name, f"../outside/{outside.name}")
    assert serving.lab_file(name) is None
    with clock.frozen(NOW):
        assert _as(world, "member").get(f"/dataPortal/{name}").status_code == 404


def test_a_symlink_to_a_directory_or_a_loop_is_refused(world, settings, outside):
    name = world.files["public"].name
    _replace_with_symlink(settings.LAB_DATA_ROOT / name, outside.parent)
    assert serving.lab_file(name) is None
    loop = settings.LAB_DATA_ROOT / "loop.tar"
    os.symlink(loop, loop)
    assert serving.lab_file("loop.tar") is None


def test_a_symlink_that_stays_inside_the_lab_cache_is_served(world, settings):
    name = world.files["public"].name
    real = settings.LAB_DATA_ROOT / "store" / "real.tar"
    real.parent.mkdir()
    real.write_bytes(b"y" * 10)
    _replace_with_symlink(settings.LAB_DATA_ROOT / name, real)
    with clock.frozen(NOW):
        response = _as(world, "member").get(f"/dataPortal/{name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"y" * 10


def test_a_lab_cache_that_is_itself_a_symlink_still_serves_its_files(world, settings, tmp_path):
    link = tmp_path / "lab-link"
    os.symlink(settings.LAB_DATA_ROOT, link)
    settings.LAB_DATA_ROOT = link
    assert serving.lab_file(world.files["public"].name) is not None


def test_a_script_never_points_at_a_symlink_that_escapes(world, settings, outside):
    file = world.files["public"]
    _replace_with_symlink(settings.LAB_DATA_ROOT / file.name, outside)
    assert request_service.file_url(file) == file.access_url


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "..\\x", "a\x00b"])
def test_names_that_are_not_flat_file_names_are_refused(world, name):
    assert serving.lab_file(name) is None
