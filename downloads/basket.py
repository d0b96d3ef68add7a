"""The basket: member OUSs a member keeps across searches until a request is made from them.

Adding the ticked rows or a whole result, removing, and emptying what a request took. The
size shown is of the files the member may download now (``access.decide_many``, the one
decider): a proprietary member OUS in the basket shows its release date, never its files'
names, sizes or count. A whole result ("tick all results") is offered with its count and size
from one aggregate query (``offer``, the decider's rule as ``access.downloadable_q``) and added
all or none, without the proprietary member OUSs the member may not download.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Sum,
)

from downloads.access import decide_many, downloadable_q
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


@dataclass(frozen=True)
class Offer:
    """What "tick all results" offers a member: the result's member OUSs the member may
    download now and their files' size, how many proprietary ones are withheld (counted, never
    sized), and whether the new ones fit in the basket."""

    downloadable: int
    downloadable_bytes: int
    withheld: int
    already: int  # downloadable ones the basket holds already
    room: int  # how many more member OUSs the basket takes

    @property
    def new(self) -> int:
        return self.downloadable - self.already

    @property
    def fits(self) -> bool:
        return self.new <= self.room


def _result_mouses(q: Q):
    return MemberOUS.objects.filter(
        pk__in=Observation.objects.filter(q, member_ous__isnull=False).values("member_ous_id")
    )


def offer(user, q: Q) -> Offer:
    """``Offer`` for the result of ``q``: counts and size from one aggregate query over the
    result's member OUSs (the access rule as ``access.downloadable_q``, each member OUS's file
    size as a subquery), plus the basket's own count; the same queries whatever the size."""
    allowed = downloadable_q(user)
    in_basket = Exists(BasketItem.objects.filter(user=user, member_ous=OuterRef("pk")))
    sizes = (
        ArchiveFile.objects.filter(member_ous=OuterRef("pk"))
        .order_by()
        .values("member_ous")
        .annotate(total=Sum("size"))
        .values("total")
    )
    # Per member OUS first (allowed, in the basket, its files' size), then summed: the
    # aggregate runs over these annotations in one statement.
    found = (
        _result_mouses(q)
        .annotate(
            files_size=Subquery(sizes, output_field=BigIntegerField()),
            allowed=ExpressionWrapper(allowed, output_field=BooleanField()),
            in_basket=in_basket,
        )
        .aggregate(
            total=Count("pk"),
            downloadable=Count("pk", filter=Q(allowed=True)),
            already=Count("pk", filter=Q(allowed=True, in_basket=True)),
            size=Sum("files_size", filter=Q(allowed=True)),
        )
    )
    held = BasketItem.objects.filter(user=user).count()
    return Offer(
        downloadable=found["downloadable"],
        downloadable_bytes=found["size"] or 0,
        withheld=found["total"] - found["downloadable"],
        already=found["already"],
        room=max(settings.DOWNLOADS_BASKET_MAX - held, 0),
    )


class BasketFull(Exception):
    """The result's new member OUSs do not fit in the basket; the message says by how much."""


def add_result(user, q: Q) -> tuple[int, Offer]:
    """Every member OUS of the result of ``q`` that ``user`` may download now, all or none:
    ``BasketFull`` when the new ones exceed the basket's room. Proprietary member OUSs the
    member may not download are left out (``Offer.withheld``). Returns (how many were new,
    the offer they came from). The candidates go through ``access.decide_many`` too, the
    decider that logs proprietary grants, so only what it allows is added."""
    found = offer(user, q)
    if not found.fits:
        raise BasketFull(
            f"This result has {found.new} member OUS{'s' if found.new != 1 else ''} you may "
            f"download that are not in the basket yet; the basket holds at most "
            f"{settings.DOWNLOADS_BASKET_MAX} and has room for {found.room}. Narrow the "
            "search, or request what the basket holds first."
        )
    candidates = list(
        _result_mouses(q).filter(downloadable_q(user)).select_related("project").order_by("pk")
    )
    decisions = decide_many(user, candidates, surface="basket")
    allowed = [m.pk for m in candidates if decisions[m.uid].allowed]
    return _add_ids(user, allowed), found


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
