"""Reads for the watches pages, the digest and the calendar.

Everything here is metadata (project codes, member OUS uids, targets, bands, release dates),
which every member may see on the search pages; no file name, size or URL is ever read, so a
digest or calendar cannot leak what ``downloads.access`` protects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from archiveportal import clock
from downloads.delegations import delegated_projects
from downloads.identity import pi_projects
from harvest.models import ChangeKind
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import MemberOUS, Observation, Project
from queries.units import is_placeholder_release
from watches.models import Watch, WatchMatch
from watches.services import may_see

# Kinds in the order a digest lists them.
KIND_ORDER = [ChangeKind.NEW, ChangeKind.RELEASED, ChangeKind.RELEASE_MOVED, ChangeKind.CHANGED]
KIND_TITLES = {
    ChangeKind.NEW: "New observations",
    ChangeKind.RELEASED: "Became public",
    ChangeKind.RELEASE_MOVED: "Release date moved",
    ChangeKind.CHANGED: "Metadata updated",
}
# Member OUSs the calendar reads per watched search: a watch on "all of band 6" must not turn
# the calendar into the whole archive.
CALENDAR_MOUS_PER_SEARCH = 500


@dataclass
class MousChange:
    """The changes of one kind to one member OUS's observations, as a reader wants them."""

    member_ous_uid: str
    proposal_id: str
    kind: str
    obs_ids: list[str] = field(default_factory=list)
    old_release_date: datetime | None = None
    new_release_date: datetime | None = None
    targets: list[str] = field(default_factory=list)
    bands: list[str] = field(default_factory=list)


@dataclass
class WatchSection:
    watch: Watch
    kinds: list[tuple[str, list[MousChange]]]
    # Absolute links, filled in by the digest (the page links by route name).
    results_url: str = ""
    unsubscribe_url: str = ""

    @property
    def count(self) -> int:
        return sum(len(c.obs_ids) for _, changes in self.kinds for c in changes)


def sections(matches: QuerySet[WatchMatch]) -> list[WatchSection]:
    """Group matches per watch, then per kind, then per member OUS (a release moves a whole
    member OUS, which would otherwise be listed once per spectral window)."""
    rows = list(
        matches.select_related("change", "watch__saved_search").order_by("watch_id", "change_id")
    )
    details = {
        o["obs_id"]: o
        for o in Observation.objects.filter(obs_id__in={m.change.obs_id for m in rows}).values(
            "obs_id", "target_name", "band_list"
        )
    }
    per_watch: dict[int, tuple[Watch, dict]] = {}
    for match in rows:
        change = match.change
        _, kinds = per_watch.setdefault(match.watch_id, (match.watch, defaultdict(dict)))
        entry = kinds[change.kind].setdefault(
            change.member_ous_uid,
            MousChange(change.member_ous_uid, change.proposal_id, change.kind),
        )
        entry.obs_ids.append(change.obs_id)
        entry.old_release_date = entry.old_release_date or change.old_release_date
        entry.new_release_date = change.new_release_date or entry.new_release_date
        detail = details.get(change.obs_id, {})
        for values, value in (
            (entry.targets, detail.get("target_name")),
            (entry.bands, detail.get("band_list")),
        ):
            if value and value not in values:
                values.append(value)
    return [
        WatchSection(
            w, [(KIND_TITLES[k], list(kinds[k].values())) for k in KIND_ORDER if kinds.get(k)]
        )
        for w, kinds in per_watch.values()
    ]


def whats_new(user, *, days: int = 30, now: datetime | None = None) -> list[WatchSection]:
    """The member's matches of the last ``days`` days, sent or not: the digest, on a page."""
    since = (now or clock.now()) - timedelta(days=days)
    return sections(WatchMatch.objects.filter(watch__user=user, created_at__gte=since))


def watches_of(user) -> list[tuple[Watch, bool]]:
    """(watch, whether its search is still visible to the watcher)."""
    return [
        (w, may_see(user, w.saved_search))
        for w in Watch.objects.filter(user=user).select_related(
            "saved_search", "saved_search__owner"
        )
    ]


@dataclass
class Release:
    mous: MemberOUS
    reasons: list[str]


@dataclass
class ProjectReleases:
    project: Project
    releases: list[Release]


def upcoming_releases(user, *, now: datetime | None = None) -> list[ProjectReleases]:
    """Coming releases (dated, after ``now``) of the member's PI projects, delegated projects
    and watched searches, grouped per project in date order. Placeholder dates (ALMA's
    3000-01-01, "not set yet") have no day to put in a calendar and are left out."""
    now = now or clock.now()
    reasons: dict[int, list[str]] = defaultdict(list)
    by_project = {
        "your project (PI)": Q(project__in=pi_projects(user)),
        "delegated to you": Q(project__in=delegated_projects(user, now=now)),
    }
    coming = MemberOUS.objects.unreleased(now).filter(release_date__gt=now)
    for reason, condition in by_project.items():
        for pk in coming.filter(condition).values_list("pk", flat=True):
            reasons[pk].append(reason)
    for w, visible in watches_of(user):
        if not visible:
            continue
        search_q = observation_filter(parse_form(w.saved_search.params), now=now)
        mous_ids = (
            Observation.objects.filter(search_q, member_ous__in=coming)
            .values_list("member_ous_id", flat=True)
            .distinct()[:CALENDAR_MOUS_PER_SEARCH]
        )
        for pk in mous_ids:
            reasons[pk].append(f"watched: {w.saved_search.name}")
    grouped: dict[int, ProjectReleases] = {}
    mouses = MemberOUS.objects.filter(pk__in=reasons).select_related("project")
    for mous in mouses.order_by("release_date", "uid"):
        if is_placeholder_release(mous.release_date):
            continue
        group = grouped.setdefault(mous.project_id, ProjectReleases(mous.project, []))
        group.releases.append(Release(mous, reasons[mous.pk]))
    return sorted(grouped.values(), key=lambda g: (g.releases[0].mous.release_date, g.project.code))
