"""Reads behind the result pages: pure functions of (query, view, sort, page, columns).

Pages render straight from the mirror, so paging, sorting and changing columns never wait for a
worker. Raw view: one row per observation, only the displayed columns selected, one extra query
for the abstracts on the page. Project view: projects are paged by code from the matching
observations, then aggregated from their member OUS rows (never by scanning observations).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from archiveportal import clock
from queries import columns as cols
from queries.fields import ParsedQuery
from queries.filters import bands_q
from queries.models import MemberOUS, Observation, Project
from queries.units import bands_of, is_placeholder_release


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)


def page_number(text: str | None) -> int:
    """The 1-based page a request asks for; anything but a whole number means the first."""
    try:
        return max(1, int(text or "1"))
    except ValueError:
        return 1


def clamp_page(number: int, total: int, size: int) -> int:
    return max(1, min(number, max(1, -(-total // size))))


def parse_sort(sort: str, allowed: set[str], default: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    return (name, descending) if name in allowed else (default, False)


COUNT_FIRST_LIMIT = 20_000


def observations_page(
    q: Q, *, sort: str, page: int, size: int, columns: list[str]
) -> tuple[list[dict], Page, dict[str, dict]]:
    """Rows of the raw view, the page, and {code: {title, abstract}} for the hover.

    The count comes first. When it is modest, the page is cut from the matches' (id, sort key)
    pairs in Python, so the database never walks a whole sort index looking for 50 matches of a
    selective filter (a cone on an empty field took 1.3 s that way on 1M rows); large results
    take the plain ``ORDER BY ... LIMIT`` whose first 50 matches come quickly.
    """
    # Default order: obs_id, which the sky index covers, so cutting a page needs no table reads.
    name, descending = parse_sort(sort, set(cols.BY_NAME), "obs_id")
    queryset = Observation.objects.filter(q)
    total = queryset.count()
    number = clamp_page(page, total, size)
    start = (number - 1) * size
    fields = list(dict.fromkeys([*columns, "obs_id", "proposal_id", "member_ous_uid"]))
    if total <= COUNT_FIRST_LIMIT:
        pairs = sorted(queryset.values_list("id", name, "obs_id"), key=lambda p: p[2])
        # Stable sorts: ties keep obs_id order; NULLs go where PostgreSQL puts them (last when
        # ascending, first when descending).
        present = sorted(
            (p for p in pairs if p[1] is not None), key=lambda p: p[1], reverse=descending
        )
        absent = [p for p in pairs if p[1] is None]
        ordered = present + absent if not descending else absent + present
        page_ids = [p[0] for p in ordered[start : start + size]]
        by_id = {
            r["id"]: r for r in Observation.objects.filter(id__in=page_ids).values("id", *fields)
        }
        rows = [by_id[i] for i in page_ids]
    else:
        order = [f"-{name}" if descending else name, "obs_id"]
        rows = list(queryset.order_by(*order).values(*fields)[start : start + size])
    codes = {r["proposal_id"] for r in rows}
    projects = {
        p["code"]: p
        for p in Project.objects.filter(code__in=codes).values("code", "title", "abstract")
    }
    return rows, Page(number, size, total), projects


@dataclass
class ProjectRow:
    code: str
    title: str
    pi_name: str
    abstract: str
    bands: list[int]
    n_mous: int
    n_sources: int
    integration: float
    status: str  # public | proprietary | mixed
    next_release: datetime | None
    placeholder_release: bool


PROJECT_SORTS = {"code"}


def member_ous_filter(parsed: ParsedQuery) -> Q | None:
    """The search as a filter on member OUSs, when a band list alone makes it one (a member
    OUS's ``band_mask`` is the union of its rows'), else None; for ``projects_page``."""
    band = parsed.constraints.get("band_list")
    if band is None or len(parsed.constraints) != 1 or band.negated:
        return None
    return bands_q(band)


def projects_page(
    q: Q,
    *,
    sort: str,
    page: int,
    size: int,
    now: datetime | None = None,
    mous_q: Q | None = None,
) -> tuple[list[ProjectRow], Page]:
    """One row per project. ``mous_q``, when the search is expressible on member OUSs alone
    (band), selects projects from the 12x smaller member OUS table instead of observations."""
    now = now or clock.now()
    _, descending = parse_sort(sort, PROJECT_SORTS, "code")
    matching = Observation.objects.filter(q)
    # One pass: every matching project code, sorted; the count is its length (a project view
    # has at most tens of thousands of rows, and a separate COUNT DISTINCT costs as much).
    if mous_q is not None:
        codes = MemberOUS.objects.filter(mous_q).values_list("project__code", flat=True)
        all_codes = sorted(set(codes.order_by().distinct()), reverse=descending)
    else:
        # By project_id, which the sky index covers, so no observation rows are read.
        project_ids = matching.values_list("project_id", flat=True).order_by()
        all_codes = sorted(
            Project.objects.filter(id__in=project_ids).values_list("code", flat=True),
            reverse=descending,
        )
    total = len(all_codes)
    number = clamp_page(page, total, size)
    start = (number - 1) * size
    codes = all_codes[start : start + size]
    page_obs = matching.filter(proposal_id__in=codes)
    sources = dict(
        page_obs.order_by()
        .values("proposal_id")
        .annotate(n=Count("target_name", distinct=True))
        .values_list("proposal_id", "n")
    )
    if mous_q is not None:
        selected = MemberOUS.objects.filter(mous_q, project__code__in=codes)
    else:
        selected = MemberOUS.objects.filter(pk__in=page_obs.order_by().values("member_ous_id"))
    # Released or not: the member OUS's own rule at ``now``, the one downloads apply.
    mouses = selected.with_release_passed(now).values(
        "project__code", "band_mask", "t_exptime", "release_date", "release_passed"
    )
    projects = {
        p["code"]: p
        for p in Project.objects.filter(code__in=codes).values(
            "code", "title", "pi_name", "abstract"
        )
    }
    aggregated: dict[str, dict] = {}
    for m in mouses:
        agg = aggregated.setdefault(
            m["project__code"], {"mask": 0, "n": 0, "t": 0.0, "public": 0, "releases": []}
        )
        agg["mask"] |= m["band_mask"]
        agg["n"] += 1
        agg["t"] += m["t_exptime"] or 0.0
        if m["release_passed"]:
            agg["public"] += 1
        else:
            agg["releases"].append(m["release_date"])
    rows = []
    for code in codes:
        agg = aggregated.get(code, {"mask": 0, "n": 0, "t": 0.0, "public": 0, "releases": []})
        project = projects.get(code, {})
        pending = agg["releases"]
        status = "public" if not pending else "proprietary" if agg["public"] == 0 else "mixed"
        known = [r for r in pending if r is not None and not is_placeholder_release(r)]
        rows.append(
            ProjectRow(
                code=code,
                title=project.get("title", ""),
                pi_name=project.get("pi_name", ""),
                abstract=project.get("abstract", ""),
                bands=bands_of(agg["mask"]),
                n_mous=agg["n"],
                n_sources=sources.get(code, 0),
                integration=agg["t"],
                status=status,
                next_release=min(known) if known else None,
                placeholder_release=bool(pending) and not known,
            )
        )
    return rows, Page(number, size, total)


def export_rows(q: Q, *, limit: int) -> tuple[list[dict], bool]:
    """Every column of the matching observations, up to ``limit``; True when cut."""
    names = [c.name for c in cols.COLUMNS]
    rows = list(
        Observation.objects.filter(q).order_by("proposal_id", "obs_id").values(*names)[: limit + 1]
    )
    return rows[:limit], len(rows) > limit
