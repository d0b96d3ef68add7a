"""The request page's tree: Project > Science goal > Group OUS > Member OUS > files.

Built for one member: each member OUS carries the access decision from ``downloads.access``, and
a denied one carries no file, name or size at all (only the "proprietary until" message). Totals
per node count only what the member may download in the ticked categories. The tree costs the
same number of queries for one member OUS or a thousand (``tests/downloads/test_query_counts``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, prefetch_related_objects

from downloads import access
from queries.models import ArchiveFile, ExecutionBlock, FileCategory, GroupOUS, MemberOUS

DEFAULT_CATEGORIES = (FileCategory.PRODUCT, FileCategory.AUXILIARY, FileCategory.README)
CATEGORY_ORDER = [c.value for c in FileCategory]


@dataclass
class MousNode:
    mous: MemberOUS
    decision: access.Decision
    files: list[ArchiveFile] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    catalogued: bool = True

    @property
    def total(self) -> int:
        return sum(f.size or 0 for f in self.files)

    @property
    def by_category(self) -> list[tuple[str, list[ArchiveFile], int]]:
        groups: dict[str, list[ArchiveFile]] = {}
        for f in self.files:
            groups.setdefault(f.category, []).append(f)
        return [
            (FileCategory(c).label, groups[c], sum(f.size or 0 for f in groups[c]))
            for c in CATEGORY_ORDER
            if c in groups
        ]


@dataclass
class GroupNode:
    uid: str
    mouses: list[MousNode] = field(default_factory=list)
    placeholder: bool = False

    @property
    def total(self) -> int:
        return sum(m.total for m in self.mouses)


@dataclass
class GoalNode:
    label: str
    groups: list[GroupNode] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)


@dataclass
class ProjectNode:
    code: str
    title: str
    goals: list[GoalNode] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(g.total for g in self.goals)


@dataclass
class Tree:
    projects: list[ProjectNode]
    categories: list[str]

    @property
    def total(self) -> int:
        return sum(p.total for p in self.projects)

    @property
    def file_count(self) -> int:
        return sum(len(m.files) for m in self.mous_nodes)

    @property
    def mous_nodes(self) -> list[MousNode]:
        return [m for p in self.projects for g in p.goals for gr in g.groups for m in gr.mouses]

    @property
    def denied(self) -> list[MousNode]:
        return [m for m in self.mous_nodes if not m.decision.allowed]

    @property
    def by_category(self) -> list[ClassTotal]:
        """Count and size per file class, over the files the member may download (a denied
        member OUS holds none), in the catalogue's class order; they add up to ``total``."""
        counts: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for node in self.mous_nodes:
            for f in node.files:
                counts[f.category] = counts.get(f.category, 0) + 1
                sizes[f.category] = sizes.get(f.category, 0) + (f.size or 0)
        return [
            ClassTotal(FileCategory(c).label, counts[c], sizes[c])
            for c in CATEGORY_ORDER
            if c in counts
        ]


@dataclass(frozen=True)
class ClassTotal:
    label: str
    count: int
    size: int


def selected_mouses(*, mous_uids=(), project_codes=()):
    return (
        MemberOUS.objects.filter(
            Q(uid__in=list(mous_uids)) | Q(project__code__in=list(project_codes))
        )
        .select_related("project", "group_ous__science_goal")
        .order_by("project__code", "uid")
    )


def _empty_groups(goal_ids: set[int]) -> dict[int, list[str]]:
    """Per science goal, its group OUSs that hold no member OUS (shown as placeholders)."""
    empty: dict[int, list[str]] = {}
    rows = (
        GroupOUS.objects.filter(science_goal_id__in=goal_ids)
        .filter(~Exists(MemberOUS.objects.filter(group_ous=OuterRef("pk"))))
        .order_by("pk")
        .values_list("science_goal_id", "uid")
    )
    for goal_id, uid in rows:
        empty.setdefault(goal_id, []).append(uid)
    return empty


def build_tree(
    user, mouses, *, categories, surface: str = "request-page", request_files=None
) -> Tree:
    """The tree for ``user``. ``request_files`` (a prepared request's ``RequestFile`` rows) are
    the files to show instead of the catalogue's: what the request holds, still filtered by the
    access decision taken now."""
    mouses = list(mouses)
    # Callers may pass member OUSs without their hierarchy: fetch it once for all of them.
    prefetch_related_objects(mouses, "project", "group_ous__science_goal")
    empty_groups = _empty_groups(
        {m.group_ous.science_goal_id for m in mouses if m.group_ous and m.group_ous.science_goal_id}
    )
    decisions = access.decide_many(user, mouses, surface=surface)
    allowed_ids = [m.pk for m in mouses if decisions[m.uid].allowed]
    files: dict[int, list] = {}
    if request_files is not None:
        # A prepared request: every member OUS was listed when it was prepared.
        catalogued = {m.pk for m in mouses}
        pk_of = {m.uid: m.pk for m in mouses if decisions[m.uid].allowed}
        for f in sorted(request_files, key=lambda f: (CATEGORY_ORDER.index(f.category), f.name)):
            if f.member_ous_uid in pk_of:
                files.setdefault(pk_of[f.member_ous_uid], []).append(f)
    else:
        catalogued = set(
            ArchiveFile.objects.filter(member_ous_id__in=[m.pk for m in mouses])
            .order_by()  # the model's ordering would make DISTINCT return every file
            .values_list("member_ous_id", flat=True)
            .distinct()
        )
        for f in ArchiveFile.objects.filter(
            member_ous_id__in=allowed_ids, category__in=categories
        ).order_by("category", "name"):
            files.setdefault(f.member_ous_id, []).append(f)
    blocks: dict[int, list[str]] = {}
    for eb in ExecutionBlock.objects.filter(member_ous_id__in=[m.pk for m in mouses]):
        blocks.setdefault(eb.member_ous_id, []).append(eb.asdm_uid)

    projects: OrderedDict[str, ProjectNode] = OrderedDict()
    goal_index: dict[tuple[str, str], GoalNode] = {}
    group_index: dict[str, GroupNode] = {}
    for mous in mouses:
        project = projects.setdefault(
            mous.project.code, ProjectNode(mous.project.code, mous.project.title)
        )
        group = mous.group_ous
        goal = group.science_goal if group else None
        goal_label = (
            (goal.name or goal.uid)
            if goal
            else (
                "Science goal (Cycle 0: no group level)"
                if group is None
                else "Science goal (not recorded in ObsCore)"
            )
        )
        goal_node = goal_index.get((project.code, goal_label))
        if goal_node is None:
            goal_node = goal_index[(project.code, goal_label)] = GoalNode(goal_label)
            project.goals.append(goal_node)
        group_uid = group.uid if group else mous.uid
        group_node = group_index.get(group_uid)
        if group_node is None:
            group_node = group_index[group_uid] = GroupNode(group_uid)
            goal_node.groups.append(group_node)
        decision = decisions[mous.uid]
        group_node.mouses.append(
            MousNode(
                mous=mous,
                decision=decision,
                files=files.get(mous.pk, []) if decision.allowed else [],
                blocks=sorted(blocks.get(mous.pk, [])),
                catalogued=mous.pk in catalogued,
            )
        )
        if goal:
            # Empty placeholder groups of the same science goal are shown as such.
            for sibling in empty_groups.get(goal.pk, []):
                if sibling not in group_index:
                    group_index[sibling] = GroupNode(sibling, placeholder=True)
                    goal_node.groups.append(group_index[sibling])
    return Tree(list(projects.values()), list(categories))
