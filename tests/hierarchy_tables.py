"""The hierarchy tables as plain data, to compare two ways of deriving them."""

from __future__ import annotations

from queries.models import (
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    Project,
    ProjectSummary,
)


def snapshot() -> dict[str, object]:
    """The derived tables by natural keys (ids differ between runs)."""
    codes = dict(Project.objects.values_list("pk", "code"))
    groups = dict(GroupOUS.objects.values_list("pk", "uid"))
    mouses = dict(MemberOUS.objects.values_list("pk", "uid"))
    project_fields = [
        "title",
        "abstract",
        "pi_name",
        "pi_userid",
        "proposal_authors",
        "science_keyword",
        "scientific_category",
        "is_synthetic",
    ]
    mous_fields = [
        "release_date",
        "data_rights",
        "band_mask",
        "n_observations",
        "n_sources",
        "target_names",
        "t_exptime",
        "t_min",
        "antenna_array",
    ]
    return {
        "projects": {p["code"]: p for p in Project.objects.values("code", *project_fields)},
        "groups": {
            uid: (codes[project], goal)
            for uid, project, goal in GroupOUS.objects.values_list(
                "uid", "project_id", "science_goal_id"
            )
        },
        "mouses": {
            m.pop("uid"): dict(
                m, project=codes[m.pop("project_id")], group=groups.get(m.pop("group_ous_id"))
            )
            for m in MemberOUS.objects.values("uid", "project_id", "group_ous_id", *mous_fields)
        },
        "blocks": {
            asdm: (mouses[mous], name)
            for asdm, mous, name in ExecutionBlock.objects.values_list(
                "asdm_uid", "member_ous_id", "schedblock_name"
            )
        },
        "links": {
            obs_id: (codes.get(project), mouses.get(mous))
            for obs_id, project, mous in Observation.objects.values_list(
                "obs_id", "project_id", "member_ous_id"
            )
        },
        "summaries": dict(ProjectSummary.objects.values_list("code", "band_mask")),
    }


def scramble() -> None:
    """Wrong aggregates and no links, so both rebuilds must derive every value themselves."""
    Observation.objects.update(project=None, member_ous=None)
    MemberOUS.objects.update(
        release_date=None,
        data_rights="",
        band_mask=0,
        n_observations=99,
        n_sources=99,
        target_names="stale",
        t_exptime=-1.0,
        t_min=None,
        antenna_array="",
    )
    ExecutionBlock.objects.update(schedblock_name="stale")
    ProjectSummary.objects.all().delete()
