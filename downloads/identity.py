"""Which projects a portal member is PI of.

The archive says who the PI is by ALMA account (``pi_userid``, newer rows) or only by name
(``pi_name``, older rows). A member is PI of a project when their linked ALMA account matches
``pi_userid``, or, for projects without a ``pi_userid``, their ALMA name matches ``pi_name``
exactly; an administrator's ``ProjectPI`` statement settles the cases the metadata cannot.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from downloads.models import AlmaIdentity, ProjectPI
from queries.models import Project


def _identity(user) -> AlmaIdentity | None:
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.alma_identity
    except AlmaIdentity.DoesNotExist:
        return None


def pi_projects(user) -> QuerySet[Project]:
    """Every project ``user`` is PI of (empty for anonymous users)."""
    if user is None or not user.is_authenticated:
        return Project.objects.none()
    condition = Q(pi_link__user=user)
    identity = _identity(user)
    if identity is not None:
        if identity.alma_userid:
            condition |= Q(pi_userid=identity.alma_userid)
        if identity.alma_name:
            condition |= Q(pi_userid="", pi_name=identity.alma_name)
    # An administrator's statement about a project names its PI: it overrides the metadata.
    stated_elsewhere = ProjectPI.objects.exclude(user=user).values("project_id")
    return Project.objects.filter(condition).exclude(pk__in=stated_elsewhere).distinct()


def is_pi(user, project: Project) -> bool:
    return pi_projects(user).filter(pk=project.pk).exists()
