"""PIs delegate and revoke from /access/ and the API; every change is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from downloads import access
from downloads.models import AlmaIdentity, Delegation, DelegationEvent
from tests.factories import MemberOUSFactory, ProjectFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def pi():
    user = UserFactory(username="pi_user")
    AlmaIdentity.objects.create(user=user, alma_userid="pi_alma", alma_name="Pi, User")
    return user


@pytest.fixture
def project(pi):
    project = ProjectFactory(code="2024.1.00123.S", pi_userid="pi_alma", pi_name="Pi, User")
    MemberOUSFactory(
        project=project,
        release_date=timezone.now() + timedelta(days=100),
        data_rights="Proprietary",
    )
    return project


def test_the_pi_sees_their_projects_and_grants_access(client, pi, project):
    delegate = UserFactory(username="colleague")
    client.force_login(pi)
    page = client.get("/access/")
    assert "2024.1.00123.S" in page.text
    response = client.post("/access/grant/", {"delegate": "colleague", "project": "2024.1.00123.S"})
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert (delegation.pi, delegation.delegate, delegation.project) == (pi, delegate, project)
    event = DelegationEvent.objects.get()
    assert (event.action, event.actor) == ("grant", pi)
    assert access.decide(delegate, project.member_ouses.get(), surface="test").allowed


def test_htmx_grant_returns_the_partial(client, pi, project):
    UserFactory(username="colleague")
    client.force_login(pi)
    response = client.post(
        "/access/grant/", {"delegate": "colleague", "project": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="access_delegations">')
    assert "all my projects" in response.text


def test_an_end_date_in_the_past_is_refused_with_a_message(client, pi, project):
    UserFactory(username="colleague")
    client.force_login(pi)
    response = client.post(
        "/access/grant/",
        {"delegate": "colleague", "project": project.code, "expires_on": "2001-01-01"},
    )
    assert response.status_code == 422
    assert "The end date must be in the future." in response.text
    assert not Delegation.objects.exists()


def test_a_refused_htmx_grant_gets_the_partial_and_varies_on_hx_request(client, pi, project):
    UserFactory(username="colleague")
    client.force_login(pi)
    form = {"delegate": "colleague", "project": project.code, "expires_on": "2001-01-01"}
    partial = client.post("/access/grant/", form, HTTP_HX_REQUEST="true")
    page = client.post("/access/grant/", form)
    assert partial.status_code == page.status_code == 422
    assert partial.text.lstrip().startswith('<div id="access_delegations">')
    assert "<html" in page.text and "<html" not in partial.text
    assert "HX-Request" in partial["Vary"] and "HX-Request" in page["Vary"]


def test_a_member_cannot_delegate_a_project_they_do_not_lead(client, project):
    member = UserFactory(username="someone")
    UserFactory(username="colleague")
    client.force_login(member)
    response = client.post("/access/grant/", {"delegate": "colleague", "project": project.code})
    assert response.status_code == 422
    assert not Delegation.objects.exists()


def test_revoking_ends_access_and_is_recorded(client, pi, project):
    delegate = UserFactory(username="colleague")
    delegation = Delegation.objects.create(pi=pi, delegate=delegate, project=project)
    client.force_login(pi)
    client.post(f"/access/{delegation.pk}/revoke/")
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None
    assert DelegationEvent.objects.filter(action="revoke", actor=pi).exists()
    assert not access.decide(delegate, project.member_ouses.get(), surface="test").allowed


def test_only_the_pi_or_an_admin_may_revoke(client, pi, project):
    delegate = UserFactory(username="colleague")
    delegation = Delegation.objects.create(pi=pi, delegate=delegate, project=project)
    client.force_login(delegate)
    assert client.post(f"/access/{delegation.pk}/revoke/").status_code == 403
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    client.force_login(admin)
    client.post(f"/access/{delegation.pk}/revoke/")
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None


def test_the_delegate_sees_what_they_hold(client, pi, project):
    delegate = UserFactory(username="colleague")
    Delegation.objects.create(pi=pi, delegate=delegate, project=project)
    client.force_login(delegate)
    assert "You hold data access to 2024.1.00123.S" in client.get("/access/").text


def test_api_token_grants_lists_and_revokes(client, pi, project):
    UserFactory(username="colleague")
    key = token_for(pi, "delegations")
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    created = client.post(
        "/api/access/delegations/",
        {"delegate": "colleague", "project": project.code},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201, created.content
    listing = client.get("/api/access/delegations/", **headers).json()
    assert [d["delegate"] for d in listing["given"]] == ["colleague"]
    assert (
        client.delete(f"/api/access/delegations/{created.json()['id']}/", **headers).status_code
        == 204
    )
    assert client.get("/api/access/delegations/").status_code in (401, 403)


def test_the_token_is_shown_once(client, pi):
    import re

    client.force_login(pi)
    created = client.post("/access/token/", {"scopes": ["download"]})
    key = re.search(r'<pre id="new-token">(apk_[\w-]+)</pre>', created.text).group(1)
    assert key not in client.get("/access/token/").text
    assert key[:10] in client.get("/access/token/").text


@pytest.fixture
def admin_user():
    return UserFactory(username="boss", is_superuser=True, is_staff=True)


def test_an_admin_cannot_add_a_delegation_in_a_pis_name(client, pi, project, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/downloads/delegation/add/").status_code == 403
    response = client.post(
        "/admin/downloads/delegation/add/",
        {"pi": pi.pk, "delegate": admin_user.pk, "project": project.pk},
    )
    assert response.status_code == 403
    # Nor through the portal's own grant page or API: only the PI grants.
    client.post("/access/grant/", {"delegate": "boss", "project": project.code})
    api = client.post(
        "/api/access/delegations/",
        {"delegate": "boss", "project": project.code},
        content_type="application/json",
    )
    assert api.status_code in (400, 403)
    assert not Delegation.objects.exists()
    assert not access.decide(admin_user, project.member_ouses.get(), surface="test").allowed


def test_an_admin_cannot_edit_a_delegation(client, pi, project, admin_user):
    delegate = UserFactory(username="colleague")
    delegation = Delegation.objects.create(
        pi=pi, delegate=delegate, project=project, expires_at=timezone.now() + timedelta(days=1)
    )
    client.force_login(admin_user)
    response = client.post(
        f"/admin/downloads/delegation/{delegation.pk}/change/",
        {"pi": pi.pk, "delegate": admin_user.pk, "project": project.pk, "expires_at": ""},
    )
    assert response.status_code == 403
    delegation.refresh_from_db()
    assert delegation.delegate == delegate
    assert client.post(f"/admin/downloads/delegation/{delegation.pk}/delete/").status_code == 403


def test_an_admin_revokes_and_the_pi_is_told_by_email(
    client, pi, project, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    pi.email = "pi@lab.example.org"
    pi.save()
    delegate = UserFactory(username="colleague")
    delegation = Delegation.objects.create(pi=pi, delegate=delegate, project=project)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/downloads/delegation/",
            {"action": "revoke_selected", "_selected_action": [delegation.pk]},
        )
    assert response.status_code == 302
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None
    assert DelegationEvent.objects.filter(action="revoke", actor=admin_user).exists()
    assert [m.to for m in mailoutbox] == [["pi@lab.example.org"]]
    assert "revoked by boss (administrator)" in mailoutbox[0].body
    assert "colleague" in mailoutbox[0].body and project.code in mailoutbox[0].body


def test_every_change_by_the_pi_is_emailed_to_the_pi(
    client, pi, project, mailoutbox, django_capture_on_commit_callbacks
):
    pi.email = "pi@lab.example.org"
    pi.save()
    UserFactory(username="colleague")
    client.force_login(pi)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/access/grant/", {"delegate": "colleague", "project": project.code})
        client.post(f"/access/{Delegation.objects.get().pk}/revoke/")
    assert [m.subject for m in mailoutbox] == [
        "Archive Portal: data delegation granted (colleague)",
        "Archive Portal: data delegation revoked (colleague)",
    ]
    assert all(m.to == ["pi@lab.example.org"] for m in mailoutbox)
    assert "granted by you" in mailoutbox[0].body


def test_an_admin_cannot_make_themselves_a_pi(client, project, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/downloads/projectpi/add/", {"project": project.pk, "user": admin_user.pk}
    )
    assert response.status_code == 200
    assert "You cannot link your own account" in response.text
    identity = client.post(
        "/admin/downloads/almaidentity/add/",
        {"user": admin_user.pk, "alma_userid": "pi_alma_2", "alma_name": "Pi, User"},
    )
    assert "You cannot link your own account" in identity.text
    assert not access.decide(admin_user, project.member_ouses.get(), surface="test").allowed


def test_a_non_pi_cannot_delegate_all_my_projects(client):
    member = UserFactory(username="someone")
    UserFactory(username="colleague")
    client.force_login(member)
    api = client.post(
        "/api/access/delegations/", {"delegate": "colleague"}, content_type="application/json"
    )
    assert api.status_code == 400
    assert "not PI of any project" in api.json()["project"][0]
    form = client.post("/access/grant/", {"delegate": "colleague", "project": ""})
    assert form.status_code == 422
    assert "You are not PI of any project" in form.text
    assert not Delegation.objects.exists()


def test_a_deactivated_pis_delegations_stop_counting(client, pi, project):
    delegate = UserFactory(username="colleague")
    Delegation.objects.create(pi=pi, delegate=delegate, project=project)
    Delegation.objects.create(pi=pi, delegate=delegate, project=None)
    mous = project.member_ouses.get()
    assert access.decide(delegate, mous, surface="test").allowed
    pi.is_active = False
    pi.save()
    assert not access.decide(delegate, mous, surface="test").allowed
    client.force_login(delegate)
    assert "You hold data access to 2024.1.00123.S" not in client.get("/access/").text


def test_a_delegates_request_list_hides_sizes_after_revocation(client, pi, project):
    from archiveportal import jobs
    from downloads.models import DownloadRequest

    delegate = UserFactory(username="colleague")
    delegation = Delegation.objects.create(pi=pi, delegate=delegate, project=project)
    DownloadRequest.objects.create(
        owner=delegate,
        member_ous_uids=[project.member_ouses.get().uid],
        categories=["product"],
        submitted_at=timezone.now(),
        phase=jobs.Phase.DONE,
        total_size=123_456_789_012,
        file_count=1,
    )
    client.force_login(delegate)
    assert "115.0\xa0GB" in client.get("/requests/").text
    delegation.revoked_at = timezone.now()
    delegation.save()
    after = client.get("/requests/").text
    assert "115.0\xa0GB" not in after and "123456789012" not in after
