"""What sizes a page may show: only what the viewer may download now.

A request's total size (and any file's name, size, checksum or URL) sums or names files; it is
shown to an account only while ``downloads.access`` lets that account download every member OUS
of the request. Staff status grants nothing here either: the admin asks the same question.
"""

from __future__ import annotations

from collections.abc import Iterable

from downloads import access
from downloads.models import DownloadRequest
from queries.models import MemberOUS


def allowed_uids(user, mouses: Iterable[MemberOUS], *, surface: str) -> set[str]:
    """The uids among ``mouses`` whose files ``user`` may download now."""
    decisions = access.decide_many(user, mouses, surface=surface)
    return {uid for uid, decision in decisions.items() if decision.allowed}


def requests_with_visible_sizes(user, requests: Iterable[DownloadRequest], *, surface: str) -> set:
    """The pks of ``requests`` whose sizes ``user`` may see: every member OUS downloadable."""
    requests = list(requests)
    uids = {uid for r in requests for uid in (r.member_ous_uids or [])}
    mouses = MemberOUS.objects.filter(uid__in=uids).select_related("project")
    allowed = allowed_uids(user, mouses, surface=surface)
    # A uid gone from the mirror cannot be decided: its part of the total stays hidden.
    return {r.pk for r in requests if all(uid in allowed for uid in (r.member_ous_uids or []))}
