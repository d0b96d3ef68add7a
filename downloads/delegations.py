"""Granting and revoking data delegations, with every change recorded and told to the PI.

ALMA's own delegation has neither an end date nor a record; ours has both. Only the PI grants:
one project, or all of their projects (``project=None``, which also covers projects they become
PI of later); nobody, administrators included, can grant in a PI's name. The PI or an
administrator may revoke. Every change, by anyone, is recorded (``DelegationEvent``) and emailed
to the PI after the transaction commits. Revoking keeps the row (``revoked_at``) so the history
stays readable.

``live_held_by`` is the one definition of a delegation that counts: not revoked, not expired,
and given by a PI whose account is still active (a deactivated PI's delegations stop counting).
``downloads.access`` asks it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet

from archiveportal import clock
from downloads.identity import is_pi, pi_projects
from downloads.models import Delegation, DelegationEvent
from queries.models import Project

log = logging.getLogger(__name__)


def may_revoke(actor, delegation: Delegation) -> bool:
    return actor.pk == delegation.pi_id or actor.is_superuser


def _scope(delegation: Delegation) -> str:
    return delegation.project.code if delegation.project_id else "all your projects"


def _tell_the_pi(delegation: Delegation, *, actor, what: str) -> None:
    """Email the PI, once the change is committed, what changed and who changed it."""
    pi = delegation.pi
    if not pi.email:
        log.warning("delegation %s changed; PI %s has no email address", delegation.pk, pi.pk)
        return
    by = "you" if actor.pk == pi.pk else f"{actor.get_username()} (administrator)"
    ends = (
        f"{delegation.expires_at:%Y-%m-%d %H:%M} UTC" if delegation.expires_at else "when revoked"
    )
    body = (
        f"Data delegation {what} by {by}:\n\n"
        f"  delegate: {delegation.delegate.get_username()}\n"
        f"  data: {_scope(delegation)}\n"
        f"  ends: {ends}\n"
    )
    body += f"\nYour delegations: {settings.PORTAL_BASE_URL.rstrip('/')}/access/\n"
    subject = f"Archive Portal: data delegation {what} ({delegation.delegate.get_username()})"
    recipient = pi.email
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    )


@transaction.atomic
def grant(
    *, actor, delegate, project: Project | None, expires_at: datetime | None = None
) -> Delegation:
    """The PI ``actor`` gives ``delegate`` data access to ``project`` (None: all projects)."""
    if delegate.pk == actor.pk:
        raise ValidationError("A PI already has access to their own data.")
    if project is None and not pi_projects(actor).exists():
        raise ValidationError(
            {
                "project": "You are not PI of any project, so you cannot delegate 'all my "
                "projects'; choose a project you lead."
            }
        )
    if project is not None and not is_pi(actor, project):
        raise PermissionDenied(f"Only the PI of {project.code} can delegate its data.")
    if expires_at is not None and expires_at <= clock.now():
        raise ValidationError({"expires_at": "The end date must be in the future."})
    delegation = Delegation.objects.create(
        pi=actor, delegate=delegate, project=project, expires_at=expires_at, created_by=actor
    )
    until = f" until {expires_at:%Y-%m-%d}" if expires_at else ""
    DelegationEvent.objects.create(
        delegation=delegation,
        action=DelegationEvent.Action.GRANT,
        actor=actor,
        detail=f"data access to {project.code if project else 'all projects of the PI'}{until}",
    )
    _tell_the_pi(delegation, actor=actor, what="granted")
    return delegation


@transaction.atomic
def revoke(*, actor, delegation: Delegation) -> Delegation:
    """The PI, or an administrator, ends a delegation at once; the PI is told either way."""
    delegation = (
        Delegation.objects.select_for_update(of=("self",))
        .select_related("pi", "delegate", "project")
        .get(pk=delegation.pk)
    )
    if not may_revoke(actor, delegation):
        raise PermissionDenied("Only the PI or an administrator can revoke a delegation.")
    if delegation.revoked_at is None:
        delegation.revoked_at = clock.now()
        delegation.save(update_fields=["revoked_at"])
        DelegationEvent.objects.create(
            delegation=delegation,
            action=DelegationEvent.Action.REVOKE,
            actor=actor,
            detail="revoked" if actor.pk == delegation.pi_id else "revoked by an administrator",
        )
        _tell_the_pi(delegation, actor=actor, what="revoked")
    return delegation


def given_by(pi) -> QuerySet[Delegation]:
    return Delegation.objects.filter(pi=pi).select_related("delegate", "project")


def live_held_by(user, *, now: datetime | None = None) -> QuerySet[Delegation]:
    """The delegations that count for ``user`` at ``now``: not revoked, not expired, from a PI
    whose account is active."""
    now = now or clock.now()
    return Delegation.objects.filter(
        delegate=user, revoked_at__isnull=True, pi__is_active=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def delegated_projects(user, *, now: datetime | None = None) -> QuerySet[Project]:
    """The projects whose data ``user`` holds through a live delegation: the named project while
    its grantor is still its PI, or every project of a PI who delegated them all."""
    condition = Q(pk__in=[])
    for delegation in live_held_by(user, now=now).select_related("pi"):
        of_pi = pi_projects(delegation.pi)
        if delegation.project_id is not None:
            of_pi = of_pi.filter(pk=delegation.project_id)
        condition |= Q(pk__in=of_pi.values("pk"))
    return Project.objects.filter(condition)


def held_by(user, *, now: datetime | None = None) -> QuerySet[Delegation]:
    # The portal clock, as downloads.access reads it: a page never calls live what access refuses.
    return live_held_by(user, now=now).select_related("pi", "project")


def status(delegation: Delegation, *, now: datetime | None = None) -> str:
    now = now or clock.now()
    if delegation.revoked_at:
        return "revoked"
    if delegation.expires_at and delegation.expires_at <= now:
        return "expired"
    if not delegation.pi.is_active:
        return "ended (PI's account deactivated)"
    return "active"
