"""Reads of target lists: a member's lists, one list's rows and progress, the cones a search
uses, and which targets each shown result row matches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db.models import Count

from queries import syntax
from queries.models import Observation
from queries.units import unit_vector
from targets import access
from targets.access import may_read
from targets.models import RowStatus, TargetList, TargetRow


@dataclass(frozen=True)
class Target:
    label: str
    cone: syntax.Cone


@dataclass(frozen=True)
class Progress:
    total: int
    searched: int
    unresolved: int
    invalid: int
    pending: int

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * (self.total - self.pending) / self.total)


def lists_of(user):
    return TargetList.objects.filter(owner=user).annotate(n_rows=Count("rows"))


def readable_list(user, list_id) -> TargetList:
    """The list, when ``user`` may read it; ``DoesNotExist`` or ``PermissionDenied`` else."""
    target_list = TargetList.objects.select_related("owner").get(pk=list_id)
    if not may_read(user, target_list):
        raise PermissionDenied("This target list is not yours and not shared with the lab.")
    return target_list


def progress(target_list: TargetList) -> Progress:
    counts = dict(
        target_list.rows.order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return Progress(
        total=sum(counts.values()),
        searched=counts.get(RowStatus.SEARCHED, 0),
        unresolved=counts.get(RowStatus.UNRESOLVED, 0),
        invalid=counts.get(RowStatus.INVALID, 0),
        pending=counts.get(RowStatus.PENDING, 0),
    )


def rows(target_list: TargetList) -> list[TargetRow]:
    return list(target_list.rows.all())


def searched_targets(list_id: str) -> list[Target]:
    """The cones of the list's searched rows, in list order (one query)."""
    return [
        Target(label, syntax.Cone(ra, dec, radius))
        for label, ra, dec, radius in TargetRow.objects.filter(
            target_list_id=list_id, status=RowStatus.SEARCHED
        ).values_list("label", "ra", "dec", "radius")
    ]


NOT_READABLE = "is not one of your target lists, nor one shared with the lab."


def list_for_search(list_id: str) -> list[Target] | str:
    """A list's searched targets for the ``target_list`` search field, or why it cannot be
    used: unknown and unreadable lists get the same answer (nothing to probe), a list still
    being searched says how far it is."""
    target_list = TargetList.objects.filter(pk=list_id).first()
    if target_list is None:
        return NOT_READABLE
    if access.in_request() and not access.may_read(access.current_user(), target_list):
        return NOT_READABLE
    if not target_list.is_terminal:
        done = progress(target_list)
        return (
            f"is still being searched ({done.total - done.pending} of {done.total} targets "
            "done); open it again once its page says it has finished."
        )
    targets = searched_targets(list_id)
    if not targets:
        return "has no target that could be searched; its page lists the reasons."
    return targets


def target_labels(node, positions) -> dict[str, str]:
    """``obs_id`` -> the labels of every target whose cone matches the row, joined by '; '.

    ``node`` is the ``target_list`` field's node (cones and labels), ``positions`` rows of
    (obs_id, s_ra, s_dec, s_fov). The cone test is ``queries.filters.cone_q``'s (centre within
    radius + s_fov/2) as one matrix product, so its cost hardly grows with the list's length.
    """
    positions = [p for p in positions if p[1] is not None and p[2] is not None]
    if not positions or not node.alternatives:
        return {}
    rows = np.array([unit_vector(ra, dec) for _, ra, dec, _ in positions])
    half_fov = np.array([(fov or 0.0) / 2 for *_, fov in positions])
    centres = np.array([unit_vector(c.ra, c.dec) for c in node.alternatives])
    radii = np.array([c.radius for c in node.alternatives])
    hits = rows @ centres.T >= np.cos(np.radians(half_fov[:, None] + radii[None, :])) - 1e-12
    labels: dict[str, str] = {}
    for i, (obs_id, *_) in enumerate(positions):
        matched = [node.labels[j] for j in np.flatnonzero(hits[i])]
        if matched:
            labels[obs_id] = "; ".join(matched)
    return labels


def page_labels(node, obs_ids: list[str]) -> dict[str, str]:
    """``target_labels`` for the rows of one result page: one query for their positions."""
    if not obs_ids:
        return {}
    positions = Observation.objects.filter(obs_id__in=obs_ids).values_list(
        "obs_id", "s_ra", "s_dec", "s_fov"
    )
    return target_labels(node, list(positions))
