"""Granting and revoking data delegations, with every change recorded.

ALMA's own delegation has neither an end date nor a record; ours has both. A PI delegates one
project, or all of their projects (``project=None``, which also covers projects they become PI
of later); an administrator may act for any PI. Revoking keeps the row (``revoked_at``) so the
history stays readable.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from archiveportal import clock
from downloads.identity import is_pi, pi_users_of
from downloads.models import Delegation, DelegationEvent
from queries.models import Project


def _may_manage(actor, pi) -> bool:
    return actor.pk == pi.pk or actor.is_superuser


@transaction.atomic
def grant(
    *, actor, delegate, project: Project | None, pi=None, expires_at: datetime | None = None
) -> Delegation:
    """``actor`` (the PI, or an admin acting for ``pi``) gives ``delegate`` data access."""
    pi = pi or actor
    if not _may_manage(actor, pi):
        raise PermissionDenied("Only the PI or an administrator can delegate data access.")
    if delegate.pk == pi.pk:
        raise ValidationError("A PI already has access to their own data.")
    if project is not None and not is_pi(pi, project):
        if actor.is_superuser and pi_users_of(project).filter(pk=pi.pk).exists():
            pass
        else:
            raise PermissionDenied(f"{pi} is not the PI of {project.code}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The end date must be in the future.")
    delegation = Delegation.objects.create(
        pi=pi, delegate=delegate, project=project, expires_at=expires_at, created_by=actor
    )
    scope = project.code if project else "all projects of the PI"
    until = f" until {expires_at:%Y-%m-%d}" if expires_at else ""
    DelegationEvent.objects.create(
        delegation=delegation,
        action=DelegationEvent.Action.GRANT,
        actor=actor,
        detail=f"data access to {scope}{until}",
    )
    return delegation


@transaction.atomic
def revoke(*, actor, delegation: Delegation) -> Delegation:
    delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if not _may_manage(actor, delegation.pi):
        raise PermissionDenied("Only the PI or an administrator can revoke a delegation.")
    if delegation.revoked_at is None:
        delegation.revoked_at = timezone.now()
        delegation.save(update_fields=["revoked_at"])
        DelegationEvent.objects.create(
            delegation=delegation,
            action=DelegationEvent.Action.REVOKE,
            actor=actor,
            detail="revoked",
        )
    return delegation


def given_by(pi) -> QuerySet[Delegation]:
    return Delegation.objects.filter(pi=pi).select_related("delegate", "project")


def held_by(user, *, now: datetime | None = None) -> QuerySet[Delegation]:
    # The portal clock, as downloads.access reads it: a page never calls live what access refuses.
    now = now or clock.now()
    return (
        Delegation.objects.filter(delegate=user, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("pi", "project")
    )


def status(delegation: Delegation, *, now: datetime | None = None) -> str:
    now = now or clock.now()
    if delegation.revoked_at:
        return "revoked"
    if delegation.expires_at and delegation.expires_at <= now:
        return "expired"
    return "active"
