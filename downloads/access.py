"""The single decider of who may download what. No other code decides.

The rule (ALMA's proprietary period, ``ALMA_NOTES.md``): a member OUS's files are public once the
archive's release date has passed; before that only the project's PI and the members the PI
delegated data access to (delegation live: not revoked, not expired) may have them. A missing
date, or ALMA's ``3000-01-01`` placeholder, means proprietary. Release happens at the stored
instant: the clock is read on every decision and nothing is cached across requests. Staff status
grants nothing. An archive ``data_rights='Public'`` mark with a release date still in the future
is not trusted: the date decides, because ALMA has moved release dates after the fact.

Metadata (ObsCore rows, abstracts, release dates) is not protected; file names, sizes and URLs
are. Every decision about proprietary data, granted or denied, is written to ``AccessDecision``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet, prefetch_related_objects

from archiveportal import clock
from downloads.delegations import delegated_projects
from downloads.identity import pi_projects
from downloads.models import AccessDecision
from queries.models import ArchiveFile, MemberOUS
from queries.units import is_placeholder_release


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str
    member_ous_uid: str
    release_date: datetime | None
    pi_name: str

    @property
    def proprietary(self) -> bool:
        return self.rule not in ("public-released",)

    @property
    def message(self) -> str:
        """What a denied member reads: when, and whom to ask; never a file name or size."""
        if self.allowed:
            return "Public data." if not self.proprietary else "You may download this data."
        when = (
            "a release date the archive has not set yet"
            if is_placeholder_release(self.release_date)
            else self.release_date.strftime("%Y-%m-%d %H:%M UTC")
        )
        who = f"the PI ({self.pi_name})" if self.pi_name else "the project's PI"
        return f"Proprietary until {when}; ask {who} for delegation."


def is_public(mous: MemberOUS, *, now: datetime | None = None) -> bool:
    """Public = released: the member OUS's own rule (``MemberOUS.is_released``), which the
    search's "public data only", the project view and the pages call too."""
    return mous.is_released(now or clock.now())


def downloadable_q(user, *, now: datetime | None = None, prefix: str = "") -> Q:
    """The rule of ``decide_many`` as a filter on member OUSs (``prefix`` reaches them from
    another model), for counting and summing over a whole result in one query: released
    (``MemberOUS.released_q``), or of a project ``user`` is PI of or holds by a live
    delegation (the same ``pi_projects`` and ``delegated_projects``, as subqueries). It decides
    nothing alone and logs nothing: files are handed out only after ``decide_many``."""
    now = now or clock.now()
    allowed = MemberOUS.released_q(now, prefix=prefix)
    if user is None or not user.is_authenticated:
        return allowed
    projects = f"{prefix}project_id__in"
    return (
        allowed
        | Q(**{projects: pi_projects(user).values("pk")})
        | Q(**{projects: delegated_projects(user, now=now).values("pk")})
    )


def _rights(user, project_ids: set[int], now: datetime) -> tuple[set[int], set[int]]:
    """(projects user is PI of, projects delegated to user) among ``project_ids``."""
    if user is None or not user.is_authenticated or not project_ids:
        return set(), set()
    own = set(pi_projects(user).filter(pk__in=project_ids).values_list("pk", flat=True))
    delegated = set(
        delegated_projects(user, now=now).filter(pk__in=project_ids).values_list("pk", flat=True)
    )
    return own, delegated


def decide_many(
    user, mouses: Iterable[MemberOUS], *, surface: str, now: datetime | None = None
) -> dict[str, Decision]:
    """Decide for many member OUSs with a handful of queries, logging proprietary decisions."""
    now = now or clock.now()
    mouses = list(mouses)
    # The PI's name is on the project: one query for those whose project is not loaded yet.
    prefetch_related_objects(mouses, "project")
    proprietary = [m for m in mouses if not is_public(m, now=now)]
    proprietary_uids = {m.uid for m in proprietary}
    own, delegated = _rights(user, {m.project_id for m in proprietary}, now)
    decisions: dict[str, Decision] = {}
    log_rows = []
    authenticated = user is not None and user.is_authenticated
    for mous in mouses:
        pi_name = mous.project.pi_name if mous.project_id else ""
        if mous.uid not in proprietary_uids:
            decisions[mous.uid] = Decision(
                True, "public-released", mous.uid, mous.release_date, pi_name
            )
            continue
        if mous.project_id in own:
            decision = Decision(True, "pi", mous.uid, mous.release_date, pi_name)
        elif mous.project_id in delegated:
            decision = Decision(True, "delegate", mous.uid, mous.release_date, pi_name)
        else:
            rule = "proprietary" if authenticated else "anonymous"
            decision = Decision(False, rule, mous.uid, mous.release_date, pi_name)
        decisions[mous.uid] = decision
        log_rows.append(
            AccessDecision(
                user=user if authenticated else None,
                member_ous_uid=mous.uid,
                release_date_seen=mous.release_date,
                granted=decision.allowed,
                rule=decision.rule,
                surface=surface[:32],
            )
        )
    if log_rows:
        AccessDecision.objects.bulk_create(log_rows)
    return decisions


def decide(user, mous: MemberOUS, *, surface: str, now: datetime | None = None) -> Decision:
    return decide_many(user, [mous], surface=surface, now=now)[mous.uid]


def downloadable_files(
    user, mous: MemberOUS, *, surface: str, now: datetime | None = None
) -> tuple[Decision, QuerySet[ArchiveFile]]:
    """The decision and the files it allows (none at all when denied)."""
    decision = decide(user, mous, surface=surface, now=now)
    files = mous.files.all() if decision.allowed else ArchiveFile.objects.none()
    return decision, files
