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
