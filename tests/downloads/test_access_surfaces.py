"""The access matrix over every surface that names files: status, and no leak when denied.

Roles x data states come from ``access_matrix``; time is frozen, never waited for.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from archiveportal import clock, jobs
from downloads import notifications
from downloads import services as request_service
from downloads.models import DownloadRequest, Outbox, RequestFile
from tests.downloads.access_matrix import (
    MEMBER_SIZE,
    NOW,
    PUBLIC_STATES,
    ROLES,
    STATES,
    assert_no_leak,
    assert_no_member_leak,
    build_world,
    expected_allowed,
    member_name,
    write_lab_tar,
)
from tests.factories import token_for

pytestmark = pytest.mark.django_db
CELLS = [(role, state) for role in ROLES for state in STATES]


@pytest.fixture
def world(settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path
    settings.PORTAL_BASE_URL = "http://portal.test"
    with clock.frozen(NOW):
        built = build_world()
    built.lab_bytes = write_lab_tar(tmp_path, built)
    return built


def client_for(world, role, via: str = "session") -> Client:
    """A client of ``role`` by session or by personal token (read and download scopes); an
    anonymous caller by token sends one that does not exist."""
    if via == "token":
        key = token_for(world.user(role)) if role != "anonymous" else "apk_not-a-real-token"
        return Client(HTTP_AUTHORIZATION=f"Token {key}")
    client = Client()
    if role != "anonymous":
        client.force_login(world.user(role))
    return client


VIAS = ["session", "token"]


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
            token = token_for(world.user(role))
            by_token = Client().get(f"/dataPortal/{file.name}", HTTP_AUTHORIZATION=f"Token {token}")
        else:
            by_token = Client().get(
                f"/dataPortal/{file.name}", HTTP_AUTHORIZATION="Token not-a-real-token"
            )
        invented = client_for(world, role).get("/dataPortal/2099.1.99999.S_invented.tar")
    for response in (by_session, by_token):
        if role == "anonymous":
            assert response.status_code == 401
        elif expected_allowed(role, state):
            assert response.status_code == 200
            assert b"".join(response.streaming_content) == world.lab_bytes[state]
        else:
            # Refused exactly as a name that does not exist is: nothing to probe.
            assert response.status_code == 404
            assert response.content == invented.content
            assert_no_leak(response.content, file)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("role", "state"), CELLS)
def test_datalink_endpoint(world, role, state, via):
    mous, file = world.mouses[state], world.files[state]
    with clock.frozen(NOW):
        response = client_for(world, role, via).get("/datalink/sync", {"ID": mous.uid})
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    if expected_allowed(role, state):
        assert file.name in response.text
        assert f"DataLink.{file.name}" in response.text  # the tar's contents can be listed
    else:
        assert_no_leak(response.content, file)
        assert_no_member_leak(response.content, state)
        assert "Proprietary until" in response.text


INVENTED_TAR = "2025.1.00777.S_secretname_invented_001_of_001.tar"


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("role", "state"), CELLS)
def test_datalink_of_a_tar_by_name(world, role, state, via):
    """The recursive DataLink (``ID=<tar name>``) lists members only to those who may download
    the tar; anyone else gets the answer an invented name gets, word for word."""
    file = world.files[state]
    client = client_for(world, role, via)
    with clock.frozen(NOW):
        response = client.get("/datalink/sync", {"ID": file.name})
        invented = client.get("/datalink/sync", {"ID": INVENTED_TAR})
    if role == "anonymous":
        assert response.status_code == invented.status_code == 401
        return
    assert response.status_code == 200
    if expected_allowed(role, state):
        assert member_name(state) in response.text
        assert f"<TD>{MEMBER_SIZE}</TD>" in response.text
    else:
        assert_no_member_leak(response.content, state)
        assert response.text.replace(file.name, "ID") == invented.text.replace(INVENTED_TAR, "ID")


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_one_tar_member_with_session_or_token(world, role, state):
    file = world.files[state]
    url = f"/dataPortal/{file.name}/{member_name(state)}"
    with clock.frozen(NOW):
        by_session = client_for(world, role).get(url)
        token = token_for(world.user(role)) if role != "anonymous" else "not-a-real-token"
        by_token = Client().get(url, HTTP_AUTHORIZATION=f"Token {token}")
        invented = client_for(world, role).get(f"/dataPortal/{INVENTED_TAR}/{member_name(state)}")
    for response in (by_session, by_token):
        if role == "anonymous":
            assert response.status_code == 401
        elif expected_allowed(role, state):
            assert response.status_code == 200
            body = b"".join(response.streaming_content)
            assert body == state.encode().ljust(MEMBER_SIZE, b"\0")
        else:
            assert response.status_code == 404
            assert response.content == invented.content
            assert_no_leak(response.content, file)
            assert_no_member_leak(response.content, state)


# --- TAP (sync and async), SIA: metadata for every member, never a file --------------------


@pytest.fixture
def rows_world(world, settings, tmp_path):
    """The world with one ObsCore row per data state, and a place for TAP async results."""
    from tests.factories import ObservationFactory

    settings.VO_TAP_RESULTS_DIR = tmp_path / "tap-results"
    for state, mous in world.mouses.items():
        ObservationFactory(
            member_ous=mous,
            obs_id=f"{mous.uid}.source.matrix.spw.{state}",
            obs_publisher_did=f"ADS/JAO.ALMA#matrix-{state}",
        )
    return world


def _tap_sync(client, query: str):
    return client.get("/tap/sync", {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query})


def _tap_async(client, query: str):
    """Create and run a job as the UWS client does; the worker's step is run here, in process."""
    from vo import uws
    from vo.models import TapJob

    created = client.post("/tap/async", {"QUERY": query, "LANG": "ADQL", "PHASE": "RUN"})
    if created.status_code != 303:
        return created
    job = TapJob.objects.latest("created_at")
    uws.execute_job(str(job.pk))
    return client.get(f"/tap/async/{job.pk}/results/result")


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _check_metadata_surface(world, role, state, response) -> None:
    """Metadata answers every member (the row and its data_rights by the release rule); no
    file name, size, checksum or URL, nor a tar member, ever reaches a caller who may not
    download it, and TAP/SIA's access_url is DataLink, never a file."""
    body = _body(response)
    if role == "anonymous":
        assert response.status_code == 401
        assert_no_leak(body, world.files[state])
        return
    assert response.status_code == 200, body
    text = body.decode()
    assert f".source.matrix.spw.{state}" in text
    rights = "Public" if state in PUBLIC_STATES else "Proprietary"
    assert f"<TD>{rights}</TD>" in text
    assert f"http://portal.test/datalink/sync?ID={world.mouses[state].uid}" in text
    if not expected_allowed(role, state):
        assert_no_leak(body, world.files[state])
        assert_no_member_leak(body, state)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("role", "state"), CELLS)
def test_tap_sync(rows_world, role, state, via):
    query = f"SELECT * FROM ivoa.obscore WHERE member_ous_uid = '{rows_world.mouses[state].uid}'"
    with clock.frozen(NOW):
        response = _tap_sync(client_for(rows_world, role, via), query)
    _check_metadata_surface(rows_world, role, state, response)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("role", "state"), CELLS)
def test_tap_async_result(rows_world, role, state, via):
    query = f"SELECT * FROM ivoa.obscore WHERE member_ous_uid = '{rows_world.mouses[state].uid}'"
    with clock.frozen(NOW):
        response = _tap_async(client_for(rows_world, role, via), query)
    _check_metadata_surface(rows_world, role, state, response)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("role", "state"), CELLS)
def test_sia(rows_world, role, state, via):
    with clock.frozen(NOW):
        response = client_for(rows_world, role, via).get(
            "/sia2/query", {"ID": f"ADS/JAO.ALMA#matrix-{state}"}
        )
    _check_metadata_surface(rows_world, role, state, response)


@pytest.mark.parametrize("surface", ["tap-sync", "tap-async", "sia"])
def test_the_file_table_is_not_a_tap_or_sia_surface(rows_world, surface):
    """Files are not in TAP's allow-list: no ADQL names them, whoever asks."""
    from vo.models import TapJob

    query = "SELECT name, size FROM queries_archivefile"
    with clock.frozen(NOW):
        client = client_for(rows_world, "member")
        if surface == "tap-sync":
            response = _tap_sync(client, query)
        elif surface == "tap-async":
            assert _tap_async(client, query).status_code == 404  # the job failed: no result
            response = client.get(f"/tap/async/{TapJob.objects.latest('created_at').pk}/error")
        else:
            # SIA quotes its values: the attempt is a target name nothing is called.
            response = client.get("/sia2/query", {"TARGET": "x' UNION SELECT name FROM x --"})
    body = _body(response)
    if surface == "sia":
        assert b"<TR>" not in body
    else:
        assert b"queries_archivefile" in body  # the refusal names the table it will not read
    for file in rows_world.files.values():
        assert_no_leak(body, file)


@pytest.mark.parametrize(("role", "state"), CELLS)
def test_script_file_list_and_manifest_recheck_access(world, role, state):
    """A request prepared while access was granted still drops files access no longer allows."""
    if role == "anonymous":
        response = Client().get("/requests/00000000-0000-0000-0000-000000000000/script")
        assert response.status_code == 401
        return
    file = world.files[state]
    request = _ready_request_for(world, role, state)
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
    name = world.files["proprietary"].name
    assert list(table["access_url"].filled("")) == [f"http://portal.test/dataPortal/{name}", ""]
    assert int(table["content_length"][0]) == world.files["proprietary"].size
    assert bool(table["readable"][0])  # ALMA's column: the caller may use the link
    # The second row is ALMA's pointer to the tar's contents: a service descriptor.
    assert table["service_def"][1] == f"DataLink.{name}"
    assert table["content_type"][1] == "application/x-votable+xml;content=datalink"


def test_a_refused_datalink_row_is_not_readable(world):
    import io

    from astropy.io.votable import parse_single_table

    with clock.frozen(NOW):
        response = client_for(world, "member").get(
            "/datalink/sync", {"ID": world.mouses["proprietary"].uid}
        )
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert list(table["readable"]) == [False]
    assert str(table["error_message"][0]).startswith("AuthorizationFault")


# --- The admin: staff status grants nothing -----------------------------------------------


def _admin_bodies(client, world) -> dict[str, str]:
    """Every admin list page, every object's change page, and the delete pages that cascade
    to files, as the staff admin sees them."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    bodies = {}
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        bodies[url] = client.get(url).content.decode()
        for obj in model.objects.all()[:40]:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            bodies[change] = client.get(change, follow=True).content.decode()
    for user in get_user_model().objects.all():
        url = reverse("admin:auth_user_delete", args=[user.pk])
        bodies[url] = client.get(url).content.decode()
    for request in DownloadRequest.objects.all():
        url = reverse("admin:downloads_downloadrequest_delete", args=[request.pk])
        bodies[url] = client.get(url).content.decode()
    bodies["index"] = client.get("/admin/").content.decode()
    return bodies


def test_a_staff_admin_with_no_rights_sees_no_proprietary_file_detail_in_any_admin_page(world):
    """Names, sizes, checksums and URLs of files the admin may not download appear in no admin
    list, change or delete page; public files' do (the admin shows what access.py allows)."""
    delegate = world.users["delegate"]
    proprietary = world.files["proprietary"]
    request = DownloadRequest.objects.create(
        owner=delegate,
        member_ous_uids=[world.mouses["proprietary"].uid],
        categories=["product"],
        submitted_at=timezone.now(),
        phase=jobs.Phase.DONE,
        total_size=proprietary.size,
        file_count=1,
    )
    RequestFile.objects.create(
        request=request,
        member_ous_uid=world.mouses["proprietary"].uid,
        name=proprietary.name,
        category="product",
        size=proprietary.size,
        checksum_sha256=proprietary.checksum_sha256,
        url=proprietary.access_url,
        relative_path=proprietary.name,
        proprietary=True,
    )
    client = client_for(world, "staff")
    with clock.frozen(NOW):
        bodies = _admin_bodies(client, world)
    assert len(bodies) > 30
    everything = "\n".join(bodies.values())
    for state, file in world.files.items():
        if expected_allowed("staff", state):
            assert file.name in everything
            assert file.checksum_sha256 in everything
        else:
            assert_no_leak(everything, file)
    assert "hidden (proprietary)" in bodies["/admin/queries/archivefile/"]
    assert "hidden (proprietary)" in bodies["/admin/downloads/downloadrequest/"]


def test_the_pi_as_admin_sees_their_own_files_in_the_admin(world):
    pi = world.users["pi"]
    pi.is_staff = pi.is_superuser = True
    pi.save()
    with clock.frozen(NOW):
        body = client_for(world, "pi").get("/admin/queries/archivefile/").text
        change = client_for(world, "pi").get(
            f"/admin/queries/archivefile/{world.files['proprietary'].pk}/change/"
        )
    assert world.files["proprietary"].name in body
    assert change.status_code == 200
    assert world.files["proprietary"].checksum_sha256 in change.text


def test_an_admin_cannot_search_proprietary_file_names(world):
    with clock.frozen(NOW):
        found = client_for(world, "staff").get(
            "/admin/queries/archivefile/", {"q": "secretname_proprietary"}
        )
    assert "0 archive files" in found.text or "0 results" in found.text


# --- Tokens: scopes, expiry, revocation, on every surface that accepts one ----------------

TOKEN_SURFACES = {
    # surface: (scope it needs, how to ask it)
    "file": ("download", lambda w: f"/dataPortal/{w.files['proprietary'].name}"),
    "datalink": ("download", lambda w: f"/datalink/sync?ID={w.mouses['proprietary'].uid}"),
    "datalink-tar": ("download", lambda w: f"/datalink/sync?ID={w.files['proprietary'].name}"),
    "tar-member": (
        "download",
        lambda w: f"/dataPortal/{w.files['proprietary'].name}/{member_name('proprietary')}",
    ),
    "api-read": ("read", lambda w: "/api/observations/?project_code=2025.1.00777.S"),
    "api-delegations": ("delegations", lambda w: "/api/access/delegations/"),
}
SCOPES = ["read", "download", "delegations"]


def _ready_request_for(world, role, state="proprietary"):
    """A prepared request of ``role`` holding ``state``'s one product file."""
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
    return request


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("surface", [*TOKEN_SURFACES, "script", "files.txt", "manifest.tsv"])
def test_a_token_works_only_where_its_scope_says(world, scope, surface):
    key = token_for(world.users["pi"], scope)
    if surface in TOKEN_SURFACES:
        needed, url_of = TOKEN_SURFACES[surface]
        url = url_of(world)
    else:
        needed = "download"
        url = f"/requests/{_ready_request_for(world, 'pi').pk}/{surface}"
    with clock.frozen(NOW):
        response = Client().get(url, HTTP_AUTHORIZATION=f"Token {key}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if scope == needed:
        assert response.status_code == 200, body
    else:
        assert response.status_code == 403, body
        assert f"'{needed}' scope" in body.decode()
        assert_no_leak(body, world.files["proprietary"])


@pytest.mark.parametrize("surface", [*TOKEN_SURFACES, "script"])
def test_an_expired_token_is_refused_with_401_and_says_so(world, surface):
    from datetime import timedelta

    with clock.frozen(NOW - timedelta(days=10)):
        key = token_for(world.users["pi"], *SCOPES, expires_at=NOW - timedelta(seconds=1))
    url = (
        TOKEN_SURFACES[surface][1](world)
        if surface in TOKEN_SURFACES
        else f"/requests/{_ready_request_for(world, 'pi').pk}/script"
    )
    with clock.frozen(NOW):
        response = Client().get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert "expired" in response.content.decode()
    assert_no_leak(response.content, world.files["proprietary"])


@pytest.mark.parametrize("surface", list(TOKEN_SURFACES))
def test_a_token_expiring_in_a_second_still_works(world, surface):
    from datetime import timedelta

    with clock.frozen(NOW):
        key = token_for(world.users["pi"], *SCOPES, expires_at=NOW + timedelta(seconds=1))
        response = Client().get(
            TOKEN_SURFACES[surface][1](world), HTTP_AUTHORIZATION=f"Token {key}"
        )
    assert response.status_code == 200


@pytest.mark.parametrize("surface", list(TOKEN_SURFACES))
def test_a_revoked_or_unknown_token_is_refused_with_401(world, surface):
    from apitokens import services
    from apitokens.models import ApiToken

    key = token_for(world.users["pi"], *SCOPES)
    services.revoke(actor=world.users["pi"], token=ApiToken.objects.get())
    url = TOKEN_SURFACES[surface][1](world)
    with clock.frozen(NOW):
        revoked = Client().get(url, HTTP_AUTHORIZATION=f"Token {key}")
        unknown = Client().get(url, HTTP_AUTHORIZATION="Token apk_not-a-real-token")
    assert revoked.status_code == 401
    assert "revoked" in revoked.content.decode()
    assert unknown.status_code == 401
    for response in (revoked, unknown):
        assert_no_leak(response.content, world.files["proprietary"])


def test_a_deactivated_members_token_is_refused(world):
    key = token_for(world.users["pi"], "download")
    world.users["pi"].is_active = False
    world.users["pi"].save()
    with clock.frozen(NOW):
        response = Client().get(
            f"/dataPortal/{world.files['proprietary'].name}", HTTP_AUTHORIZATION=f"Token {key}"
        )
    assert response.status_code == 401


@pytest.mark.parametrize(("role", "state"), [c for c in CELLS if c[0] != "anonymous"])
def test_the_request_list_shows_a_size_only_while_the_member_may_download_it(world, role, state):
    file = world.files[state]
    DownloadRequest.objects.create(
        owner=world.user(role),
        member_ous_uids=[world.mouses[state].uid],
        categories=["product"],
        submitted_at=timezone.now(),
        phase=jobs.Phase.DONE,
        total_size=file.size,
        file_count=1,
    )
    with clock.frozen(NOW):
        body = client_for(world, role).get("/requests/").text
    shown = "941.9\xa0MB" in body  # file sizes are 987,654,321 bytes and a few more
    assert shown == expected_allowed(role, state)
    assert_no_leak(body, file)
