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


# --- One member of a tar: a byte range of the tar, with its own ranges ----------------------


@pytest.fixture
def tar_world(world, settings):
    from tests.downloads.access_matrix import write_lab_tar

    world.lab_bytes = write_lab_tar(settings.LAB_DATA_ROOT, world)
    return world


def _member_url(world, state: str = "public") -> str:
    from tests.downloads.access_matrix import member_name

    return f"/dataPortal/{world.files[state].name}/{member_name(state)}"


def _member_bytes(state: str = "public") -> bytes:
    from tests.downloads.access_matrix import MEMBER_SIZE

    return state.encode().ljust(MEMBER_SIZE, b"\0")


def test_a_tar_member_is_served_whole_with_its_own_size_and_name(tar_world):
    with clock.frozen(NOW):
        response = _as(tar_world, "member").get(_member_url(tar_world))
        head = _as(tar_world, "member").head(_member_url(tar_world))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _member_bytes()
    assert response["Content-Length"] == str(len(_member_bytes()))
    assert response["Content-Disposition"] == (
        "attachment; filename=secretmember_public.pbcor.fits"
    )
    assert head["Content-Length"] == response["Content-Length"]
    assert head["ETag"] == response["ETag"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-9", 0, 9), ("bytes=100-", 100, None), ("bytes=-5", -5, None)],
)
def test_a_range_of_a_tar_member_counts_from_the_members_first_byte(tar_world, header, first, last):
    data = _member_bytes()
    expected = data[first:] if last is None else data[first : last + 1]
    with clock.frozen(NOW):
        response = _as(tar_world, "member").get(_member_url(tar_world), HTTP_RANGE=header)
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == expected
    start = first if first >= 0 else len(data) + first
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"


def test_a_range_past_a_members_end_is_416_with_the_members_size(tar_world):
    size = len(_member_bytes())
    with clock.frozen(NOW):
        response = _as(tar_world, "member").get(_member_url(tar_world), HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("state", ["proprietary", "placeholder", "missing"])
def test_a_refused_member_an_invented_member_and_an_invented_tar_answer_alike(tar_world, state):
    client = _as(tar_world, "member")
    tar = tar_world.files[state].name
    with clock.frozen(NOW):
        answers = [
            _answer(client.get(url))
            for url in (
                _member_url(tar_world, state),
                f"/dataPortal/{tar}/no/such/member.fits",
                f"/dataPortal/{INVENTED}/{_member_url(tar_world, state).split('/', 3)[3]}",
                f"/dataPortal/{tar_world.files['public'].name}/no/such/member.fits",
            )
        ]
    assert answers[0][0] == 404
    assert all(answer == answers[0] for answer in answers)


def test_a_member_of_a_file_that_is_not_a_tar_is_not_found(world):
    with clock.frozen(NOW):
        response = _as(world, "member").get(f"/dataPortal/{world.files['public'].name}/x")
    assert response.status_code == 404
    assert response.content == serving.not_found().content
