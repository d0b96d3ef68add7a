"""ALMA's delivery layout: where a member OUS's files sit once downloaded and unpacked.

``<project>/science_goal.uid___A001_X1295_X31/group.uid___A001_X1295_X32/member.uid___A001_X1295_X35``
(see ``../shared/refdata/deliveries/``). ObsCore carries no science-goal uid; where the mirror
does not know it the level is named ``science_goal.unknown`` rather than guessed. Cycle 0 has no
group level in ObsCore; its member OUS stands for the group too, as in ALMA's Cycle 0 trees.
"""

from __future__ import annotations

from queries.models import MemberOUS


def uid_to_path(uid: str) -> str:
    """``uid://A001/X1295/X35`` -> ``uid___A001_X1295_X35`` (ALMA's file-name form)."""
    return uid.replace("://", "___").replace("/", "_")


def member_directory(mous: MemberOUS) -> str:
    group = mous.group_ous
    goal = group.science_goal if group is not None else None
    goal_part = (
        f"science_goal.{uid_to_path(goal.uid)}" if goal and goal.uid else "science_goal.unknown"
    )
    group_part = f"group.{uid_to_path(group.uid)}" if group else f"group.{uid_to_path(mous.uid)}"
    return f"{mous.project.code}/{goal_part}/{group_part}/member.{uid_to_path(mous.uid)}"
