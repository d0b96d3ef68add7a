"""The access matrix over every surface that names files: status, and no leak when denied.

Roles x data states come from ``access_matrix``; time is frozen, never waited for.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from archiveportal import clock, jobs
from downloads import notifications
from downloads import requests as request_service
from downloads.models import DownloadRequest, Outbox, RequestFile
from tests.downloads.access_matrix import (
    NOW,
    ROLES,
    STATES,
    assert_no_leak,
    build_world,
    expected_allowed,
)

pytestmark = pytest.mark.django_db
CELLS = [(role, state) for role in ROLES for state in STATES]


@pytest.fixture
def world(settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path
    settings.PORTAL_BASE_URL = "http://portal.test"
    with clock.frozen(NOW):
        built = build_world()
    for file in built.files.values():
        (tmp_path / file.name).write_bytes(b"x" * 64)
    return built


def client_for(world, role) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.user(role))
    return client


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_request_page_and_tree_partial(world, role, state):
    mous, file = world.mouses[state], world.files[state]
    client = client_for(world, role)
    with clock.frozen(NOW):
        page = client.get("/requests/new/", {"mous": mous.uid})
        partial = client.get("/requests/new/", {"mous": mous.uid}, HTTP_HX_REQUEST="true")
    if role == "anonymous":
        assert page.status_code == 302
        assert partial.status_code == 302
        return
    assert page.status_code == 200
    for body in (page.text, partial.text):
        if expected_allowed(role, state):
            assert file.name in body
        else:
            assert_no_leak(body, file)
            assert "Proprietary until" in body
            assert "ask the PI (Matrix, Pi) for delegation" in body


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_file_serving_with_session_or_token(world, role, state):
    file = world.files[state]
    with clock.frozen(NOW):
        by_session = client_for(world, role).get(f"/dataPortal/{file.name}")
        if role != "anonymous":
            token = Token.objects.create(user=world.user(role)).key
            by_token = Client().get(f"/dataPortal/{file.name}", HTTP_AUTHORIZATION=f"Token {token}")
        else:
            by_token = Client().get(
                f"/dataPortal/{file.name}", HTTP_AUTHORIZATION="Token not-a-real-token"
            )
    for response in (by_session, by_token):
        if role == "anonymous":
            assert response.status_code == 401
        elif expected_allowed(role, state):
            assert response.status_code == 200
            assert b"".join(response.streaming_content) == b"x" * 64
        else:
            assert response.status_code == 403
            assert_no_leak(response.content, file)


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_datalink_endpoint(world, role, state):
    mous, file = world.mouses[state], world.files[state]
    with clock.frozen(NOW):
        response = client_for(world, role).get("/datalink/sync", {"ID": mous.uid})
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    if expected_allowed(role, state):
        assert file.name in response.text
    else:
        assert_no_leak(response.content, file)
        assert "Proprietary until" in response.text


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_script_file_list_and_manifest_recheck_access(world, role, state):
    """A request prepared while access was granted still drops files access no longer allows."""
    if role == "anonymous":
        response = Client().get("/requests/00000000-0000-0000-0000-000000000000/script")
        assert response.status_code == 401
        return
    mous, file = world.mouses[state], world.files[state]
    request = DownloadRequest.objects.create(
        owner=world.user(role),
        member_ous_uids=[mous.uid],
        categories=["product"],
        submitted_at=timezone.now(),
        phase=jobs.Phase.DONE,
        expires_at=timezone.now() + timezone.timedelta(days=30),
    )
    RequestFile.objects.create(
        request=request,
        member_ous_uid=mous.uid,
        name=file.name,
        category="product",
        size=file.size,
        url=f"http://portal.test/dataPortal/{file.name}",
        relative_path=file.name,
    )
    client = client_for(world, role)
    with clock.frozen(NOW):
        responses = [
            client.get(f"/requests/{request.pk}/{suffix}")
            for suffix in ("script", "files.txt", "manifest.tsv")
        ]
    for response in responses:
        assert response.status_code == 200
        if expected_allowed(role, state):
            assert file.name in response.content.decode()
        else:
            assert_no_leak(response.content, file)


@pytest.mark.parametrize(("role", "state"), [c for c in CELLS if c[0] != "anonymous"])
def test_preparation_and_email(world, role, state, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mous, file = world.mouses[state], world.files[state]
    user = world.user(role)
    user.email = f"{role}@lab.example.org"
    user.save()
    with clock.frozen(NOW):
        request = DownloadRequest.objects.create(
            owner=user,
            member_ous_uids=[mous.uid],
            categories=["product"],
            submitted_at=timezone.now(),
        )
        request_service.prepare_request(str(request.pk))
    # The email leaves after commit, from the request's outbox row.
    notifications.deliver(str(Outbox.objects.get(request=request).pk))
    request.refresh_from_db()
    assert request.phase == jobs.Phase.DONE
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    names = list(request.files.values_list("name", flat=True))
    if expected_allowed(role, state):
        assert names == [file.name]
    else:
        assert names == []
        assert_no_leak(body, file)
        assert_no_leak(str(request.denied_summary), file)
        assert "Proprietary until" in body


def test_another_members_request_is_invisible(world):
    request = DownloadRequest.objects.create(
        owner=world.users["pi"],
        member_ous_uids=[],
        categories=["product"],
        phase=jobs.Phase.DONE,
        submitted_at=timezone.now(),
    )
    client = client_for(world, "member")
    assert client.get(f"/requests/{request.pk}/").status_code == 404
    assert client.get(f"/requests/{request.pk}/script").status_code == 404


def test_search_api_and_pages_show_metadata_but_no_file_names(world):
    client = client_for(world, "member")
    with clock.frozen(NOW):
        api = client.get("/api/observations/", {"project_code": "2025.1.00777.S"})
        project = client.get("/aq/project/2025.1.00777.S/")
        mous = client.get(f"/aq/mous/{world.mouses['proprietary'].uid}/")
    for response in (api, project, mous):
        assert response.status_code == 200
        assert_no_leak(response.content, world.files["proprietary"])
    assert "2025.1.00777.S" in project.text


def test_the_datalink_document_is_a_valid_votable_for_astropy(world):
    import io

    from astropy.io.votable import parse_single_table

    with clock.frozen(NOW):
        response = client_for(world, "pi").get(
            "/datalink/sync", {"ID": world.mouses["proprietary"].uid}
        )
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert list(table["access_url"]) == [
        f"http://portal.test/dataPortal/{world.files['proprietary'].name}"
    ]
    assert int(table["content_length"][0]) == world.files["proprietary"].size
