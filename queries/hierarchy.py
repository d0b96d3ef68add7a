"""Derives the hierarchy tables from the ObsCore rows of the mirror.

ObsCore is flat: one row per member OUS x source x spectral window. The pages that show projects
and the download tree need Project > GroupOUS > MemberOUS > ExecutionBlock with per-MOUS
aggregates (bands, sources, integration, release date), so that they never scan observations.
``rebuild_hierarchy`` is idempotent and only touches the projects it is given; it ends by
refreshing those projects' ``ProjectSummary`` rows, their observed positions
(``queries.positions``) and their spectral windows
(``queries.spectral.rebuild_windows``), so the loader and the harvest (which both
call it) keep the per-project aggregates the project view pages on. Science goals are
not in ObsCore; links to them made by other sources (the sample archive) are left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Collate

from queries import hierarchy_sql
from queries.models import (
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    Project,
    ProjectSummary,
)
from queries.positions import refresh_positions
from queries.spectral import note_widest_window, rebuild_windows

# Who writes the rows' spectral windows when the hierarchy is derived (``rebuild_hierarchy``).
WindowsBy = Literal["rebuild", "written", "caller"]

_PROJECT_FIELDS = (
    "obs_title",
    "proposal_abstract",
    "pi_name",
    "obs_creator_name",
    "pi_userid",
    "proposal_authors",
    "science_keyword",
    "scientific_category",
)


def antenna_array(antenna_arrays: str) -> str:
    """``'A109:DV09 J504:DA41'`` -> ``'12m'``; CM antennas are the 7m array, PM the TP array."""
    kinds = set()
    for pair in (antenna_arrays or "").split():
        antenna = pair.split(":")[-1].upper()
        if antenna.startswith("CM"):
            kinds.add("7m")
        elif antenna.startswith("PM"):
            kinds.add("TP")
        elif antenna.startswith(("DA", "DV")):
            kinds.add("12m")
    for kind in ("12m", "7m", "TP"):
        if kind in kinds and len(kinds) == 1:
            return kind
    # Mixed lists (a TP antenna borrowed by the 12m array): the interferometer wins.
    return "12m" if "12m" in kinds else ("7m" if "7m" in kinds else "")


def rebuild_hierarchy(
    proposal_ids: Iterable[str] | None = None, *, windows: WindowsBy = "rebuild"
) -> None:
    """Derive the hierarchy of the projects ``proposal_ids`` (all when None) from their rows:
    set-based statements on PostgreSQL (``queries.hierarchy_sql``), this module's loop
    elsewhere; the same rules either way (a test holds the two equal). ``windows``: "rebuild"
    the rows' spectral windows too; "written": the caller wrote them with the rows
    (``load_archive``'s first load), so only the widest window is noted; "caller": the caller
    rebuilds them itself (a harvest's first load, beside the hierarchy's transaction:
    ``harvest.bulk.build_alongside``)."""
    codes = None if proposal_ids is None else sorted(set(proposal_ids))
    if codes == []:
        return
    if connection.vendor == "postgresql":
        project_ids = hierarchy_sql.rebuild(codes)
        hierarchy_sql.refresh_summaries(project_ids)
    else:
        project_ids = rebuild_in_python(codes)
        refresh_summaries(project_ids)
    refresh_positions(codes)
    if windows == "rebuild":
        rebuild_windows(codes)
    elif windows == "written":
        note_widest_window()


def rebuild_in_python(proposal_ids: list[str] | None) -> list[int]:
    """The rules of ``queries.hierarchy_sql`` a row at a time, through the ORM (any database);
    returns the ids of the projects that have rows."""
    rows = Observation.objects.all()
    if proposal_ids is not None:
        rows = rows.filter(proposal_id__in=proposal_ids)
    rows = rows.order_by(*_by_code_point("proposal_id", "obs_id")).values(
        "proposal_id",
        "group_ous_uid",
        "member_ous_uid",
        "asdm_uid",
        "schedblock_name",
        "obs_release_date",
        "data_rights",
        "band_mask",
        "target_name",
        "t_exptime",
        "t_min",
        "antenna_arrays",
        *_PROJECT_FIELDS,
    )
    projects: dict[str, dict] = {}
    groups: dict[str, str] = {}
    mouses: dict[str, dict] = {}
    blocks: dict[str, tuple[str, str]] = {}
    for row in rows.iterator(chunk_size=5000):
        code = row["proposal_id"]
        project = projects.setdefault(code, {})
        row["obs_creator_name"] = _creator(row)  # a row naming the observatory names no PI
        for key in _PROJECT_FIELDS:
            if row[key] and not project.get(key):
                project[key] = row[key]
        if row["group_ous_uid"]:
            groups[row["group_ous_uid"]] = code
        uid = row["member_ous_uid"]
        if not uid:
            continue
        agg = mouses.setdefault(
            uid,
            {
                "project": code,
                "group": row["group_ous_uid"],
                "release": None,
                "rights": "",
                "mask": 0,
                "n": 0,
                "targets": set(),
                "asdm_time": {},
                "t_min": None,
                "arrays": "",
            },
        )
        agg["n"] += 1
        agg["mask"] |= row["band_mask"] or 0
        if row["target_name"]:
            agg["targets"].add(row["target_name"])
        release = row["obs_release_date"]
        if release is not None and (agg["release"] is None or release > agg["release"]):
            agg["release"] = release  # rows that disagree: the later date is the safe one
        agg["rights"] = agg["rights"] if agg["rights"] == "Proprietary" else row["data_rights"]
        if row["asdm_uid"]:
            agg["asdm_time"][row["asdm_uid"]] = row["t_exptime"]
            blocks[row["asdm_uid"]] = (uid, row["schedblock_name"] or "")
        if row["t_min"] is not None and (agg["t_min"] is None or row["t_min"] < agg["t_min"]):
            agg["t_min"] = row["t_min"]
        agg["arrays"] = agg["arrays"] or antenna_array(row["antenna_arrays"])
        if not agg["group"] and row["group_ous_uid"]:
            agg["group"] = row["group_ous_uid"]

    project_ids = _upsert_projects(projects)
    group_ids = _upsert_groups(groups, project_ids)
    mous_ids = _upsert_mouses(mouses, project_ids, group_ids)
    _upsert_blocks(blocks, mous_ids)
    _link_observations(list(projects))
    return list(project_ids.values())


def _by_code_point(*names: str) -> list:
    """Ordering by code point on any database: SQLite's default; PostgreSQL's "C" collation
    (the order ``queries.hierarchy_sql`` uses for "first" and "last")."""
    if connection.vendor == "postgresql":
        return [Collate(F(name), "C") for name in names]
    return list(names)


def refresh_summaries(project_ids: Iterable[int] | None = None) -> None:
    """Recompute ``ProjectSummary`` rows (all, or those of ``project_ids``) from the member
    OUSs: one row per project, its bands the union of its member OUSs' bands."""
    if connection.vendor == "postgresql":
        hierarchy_sql.refresh_summaries(None if project_ids is None else list(project_ids))
        return
    refresh_summaries_in_python(project_ids)


def refresh_summaries_in_python(project_ids: Iterable[int] | None = None) -> None:
    """``refresh_summaries`` through the ORM (any database)."""
    mouses = MemberOUS.objects.all()
    projects = Project.objects.all()
    if project_ids is not None:
        project_ids = sorted(set(project_ids))
        mouses = mouses.filter(project_id__in=project_ids)
        projects = projects.filter(pk__in=project_ids)
    masks: dict[int, int] = defaultdict(int)
    for project_id, mask in mouses.values_list("project_id", "band_mask").iterator(10_000):
        masks[project_id] |= mask or 0
    rows = [
        ProjectSummary(project_id=pk, code=code, band_mask=masks[pk])
        for pk, code in projects.values_list("pk", "code").iterator(10_000)
    ]
    with transaction.atomic():
        summaries = ProjectSummary.objects.all()
        if project_ids is not None:
            summaries = summaries.filter(project_id__in=project_ids)
        summaries.delete()
        ProjectSummary.objects.bulk_create(rows, batch_size=5000)


def _creator(values: dict) -> str:
    """``obs_creator_name`` when it names a person: ALMA's rows say "ALMA" (the observatory),
    which must never stand in for an unknown PI ("ask the PI (ALMA)")."""
    creator = (values.get("obs_creator_name") or "").strip()
    return "" if creator.upper() == "ALMA" else creator


def _upsert_projects(projects: dict[str, dict]) -> dict[str, int]:
    existing = {p.code: p for p in Project.objects.filter(code__in=list(projects))}
    for code, values in projects.items():
        project = existing.get(code) or Project(code=code)
        project.title = values.get("obs_title") or project.title
        project.abstract = values.get("proposal_abstract") or project.abstract
        project.pi_name = (
            values.get("pi_name") or values.get("obs_creator_name") or project.pi_name
        )[:256]
        project.pi_userid = (values.get("pi_userid") or project.pi_userid)[:64]
        project.proposal_authors = values.get("proposal_authors") or project.proposal_authors
        project.science_keyword = values.get("science_keyword") or project.science_keyword
        project.scientific_category = (
            values.get("scientific_category") or project.scientific_category
        )[:200]
        project.save()
        existing[code] = project
    return {code: p.pk for code, p in existing.items()}


def _upsert_groups(groups: dict[str, str], project_ids: dict[str, int]) -> dict[str, int]:
    existing = {g.uid: g for g in GroupOUS.objects.filter(uid__in=list(groups))}
    for uid, code in groups.items():
        group = existing.get(uid)
        if group is None:
            existing[uid] = GroupOUS.objects.create(uid=uid, project_id=project_ids[code])
        elif group.project_id != project_ids[code]:
            group.project_id = project_ids[code]
            group.save(update_fields=["project"])
    return {uid: g.pk for uid, g in existing.items()}


def _upsert_mouses(
    mouses: dict[str, dict], project_ids: dict[str, int], group_ids: dict[str, int]
) -> dict[str, int]:
    existing = {m.uid: m for m in MemberOUS.objects.filter(uid__in=list(mouses))}
    for uid, agg in mouses.items():
        mous = existing.get(uid) or MemberOUS(uid=uid)
        mous.project_id = project_ids[agg["project"]]
        mous.group_ous_id = group_ids.get(agg["group"]) if agg["group"] else None
        mous.release_date = agg["release"]
        mous.data_rights = agg["rights"] or ""
        mous.band_mask = agg["mask"]
        mous.n_observations = agg["n"]
        mous.n_sources = len(agg["targets"])
        mous.target_names = ", ".join(sorted(agg["targets"]))[:2000]
        times = [t for t in agg["asdm_time"].values() if t is not None]
        mous.t_exptime = sum(times) if times else None
        mous.t_min = agg["t_min"]
        mous.antenna_array = agg["arrays"]
        mous.save()
        existing[uid] = mous
    return {uid: m.pk for uid, m in existing.items()}


def _upsert_blocks(blocks: dict[str, tuple[str, str]], mous_ids: dict[str, int]) -> None:
    existing = {b.asdm_uid: b for b in ExecutionBlock.objects.filter(asdm_uid__in=list(blocks))}
    grouped = defaultdict(list)
    for asdm, (mous_uid, sb_name) in blocks.items():
        grouped[mous_uid].append(asdm)
        block = existing.get(asdm)
        if block is None:
            ExecutionBlock.objects.create(
                asdm_uid=asdm, member_ous_id=mous_ids[mous_uid], schedblock_name=sb_name[:128]
            )
        elif block.member_ous_id != mous_ids[mous_uid] or block.schedblock_name != sb_name:
            block.member_ous_id = mous_ids[mous_uid]
            block.schedblock_name = sb_name[:128]
            block.save()


def _link_observations(codes: list[str]) -> None:
    rows = Observation.objects.filter(proposal_id__in=codes)
    rows.update(
        project_id=Subquery(Project.objects.filter(code=OuterRef("proposal_id")).values("id")[:1]),
        member_ous_id=Subquery(
            MemberOUS.objects.filter(uid=OuterRef("member_ous_uid")).values("id")[:1]
        ),
    )
