"""The basket: member OUSs a member keeps across searches until a request is made from them.

Adding the ticked rows or a whole result, removing, and emptying what a request took. The
size shown is of the files the member may download now (``access.decide_many``, the one
decider): a proprietary member OUS in the basket shows its release date, never its files'
names, sizes or count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, Sum

from downloads.access import decide_many
from downloads.models import BasketItem
from queries.models import ArchiveFile, MemberOUS, Observation


@dataclass(frozen=True)
class Summary:
    mous_count: int
    downloadable: int  # member OUSs the member may download now
    downloadable_bytes: int


def add(user, uids: Iterable[str]) -> int:
    """Put the member OUSs named by ``uids`` in the basket; returns how many were new."""
    mous_ids = list(MemberOUS.objects.filter(uid__in=set(uids)).values_list("pk", flat=True))
    return _add_ids(user, mous_ids)


def add_result(user, q: Q) -> tuple[int, int]:
    """Every member OUS of a search's result (at most ``DOWNLOADS_BASKET_MAX``): (new, found)."""
    limit = settings.DOWNLOADS_BASKET_MAX
    mous_ids = list(
        Observation.objects.filter(q, member_ous__isnull=False)
        .values_list("member_ous_id", flat=True)
        .distinct()
        .order_by("member_ous_id")[:limit]
    )
    return _add_ids(user, mous_ids), len(mous_ids)


def _add_ids(user, mous_ids: list[int]) -> int:
    room = settings.DOWNLOADS_BASKET_MAX - BasketItem.objects.filter(user=user).count()
    before = BasketItem.objects.filter(user=user).count()
    BasketItem.objects.bulk_create(
        [BasketItem(user=user, member_ous_id=pk) for pk in mous_ids[: max(room, 0)]],
        ignore_conflicts=True,
    )
    return BasketItem.objects.filter(user=user).count() - before


def remove(user, uids: Iterable[str]) -> int:
    deleted, _ = BasketItem.objects.filter(user=user, member_ous__uid__in=set(uids)).delete()
    return deleted


def member_ouses(user) -> list[MemberOUS]:
    return [
        item.member_ous
        for item in BasketItem.objects.filter(user=user).select_related(
            "member_ous", "member_ous__project"
        )
    ]


def uids(user) -> list[str]:
    return list(BasketItem.objects.filter(user=user).values_list("member_ous__uid", flat=True))


def summary(user, mouses: list[MemberOUS] | None = None) -> Summary:
    """How many member OUSs, how many the member may download now, and those files' size."""
    mouses = member_ouses(user) if mouses is None else mouses
    decisions = decide_many(user, mouses, surface="basket")
    allowed = [m.pk for m in mouses if decisions[m.uid].allowed]
    size = ArchiveFile.objects.filter(member_ous_id__in=allowed).aggregate(s=Sum("size"))["s"] or 0
    return Summary(len(mouses), len(allowed), size)
