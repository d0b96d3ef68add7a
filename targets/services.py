"""Writes of target lists: an upload becomes a list and its rows; the worker searches them.

The worker's part (``search_targets``) is idempotent: it claims the list (``jobs.claim``), goes
through the rows still pending in list order, and commits each row as it is done (the page's
progress, and nothing redone after a crash); a second delivery finds no pending row or no
claimable list. Names are resolved by ``queries.resolver.resolve`` (its database cache first,
then Sesame); a row is then counted with the Position kind's cone filter. Last, the list's
matches (``TargetMatch``) are written, which searches over the list read.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q

from archiveportal import jobs
from queries import syntax
from queries.errors import NameNotResolved
from queries.filters import cone_q
from queries.models import Observation, Project
from queries.resolver import resolve
from targets.models import (
    RowStatus,
    TargetBandCount,
    TargetList,
    TargetMatch,
    TargetOUS,
    TargetProject,
    TargetRow,
)
from targets.parsing import parse_upload
from targets.selectors import cones_sql, mirror_stamp, searched_targets

log = logging.getLogger(__name__)


@transaction.atomic
def create_target_list(*, owner, name: str, data: bytes) -> TargetList:
    """Parse the upload (``TargetFileError`` refuses it whole), store every line as a row
    (unreadable ones with their reason) and hand the list to a worker."""
    parsed = parse_upload(data, max_rows=settings.TARGETS_MAX_ROWS)
    target_list = TargetList.objects.create(owner=owner, name=(name.strip() or "Target list")[:200])
    TargetRow.objects.bulk_create(
        TargetRow(
            target_list=target_list,
            number=row.number,
            text=row.text,
            label=row.label,
            name=row.name,
            ra=row.ra,
            dec=row.dec,
            radius=row.radius,
            status=RowStatus.INVALID if row.reason else RowStatus.PENDING,
            reason=row.reason,
        )
        for row in parsed
    )
    jobs.dispatch(target_list)
    return target_list


def search_targets(list_id: str) -> None:
    """The worker's part: resolve and count every pending row, one commit per row."""
    target_list = jobs.claim(TargetList, list_id)
    if target_list is None:
        return
    for row in TargetRow.objects.filter(target_list=target_list, status=RowStatus.PENDING):
        search_row(row)
    cones = [target.cone for target in searched_targets(list_id)]
    refresh_matches(list_id, cones, stamp=mirror_stamp())  # the first page need not wait
    jobs.finish(target_list)


def refresh_matches(list_id: str, cones, *, stamp: str) -> bool:
    """Make the list's ``TargetMatch`` and ``TargetOUS`` rows those of the mirror at ``stamp``
    (``_store_matches``) unless they are already; True when they are current.

    Under a row lock on the list, so two requests never build them at once: the one that
    finds the row locked is answered False (PostgreSQL's SKIP LOCKED) and searches with the
    join meanwhile. Readers see the old rows or the new ones, never a half-built set.
    """
    if TargetList.objects.filter(pk=list_id, matched_stamp=stamp).exists():
        return True
    with transaction.atomic():
        target_list = (
            TargetList.objects.select_for_update(skip_locked=True).filter(pk=list_id).first()
        )
        if target_list is None:
            return False
        if target_list.matched_stamp == stamp:
            return True
        TargetMatch.objects.filter(target_list_id=list_id).delete()
        TargetOUS.objects.filter(target_list_id=list_id).delete()
        TargetBandCount.objects.filter(target_list_id=list_id).delete()
        TargetProject.objects.filter(target_list_id=list_id).delete()
        sql = cones_sql(cones)
        if sql:
            _store_matches(target_list, sql)
        target_list.matched_stamp = stamp
        target_list.matches_linked = not TargetMatch.objects.filter(
            Q(project_id__isnull=True) | Q(member_ous_id__isnull=True), target_list_id=list_id
        ).exists()
        target_list.save(update_fields=["matched_stamp", "matches_linked"])
    if connection.vendor == "postgresql":
        # Fresh statistics, or the planner takes a list of 40,000 matches for 200 and pages
        # through them by nested loops (0.5 s) instead of walking the page's own index; and,
        # where no transaction is open (the worker), a visibility map, so the list's count is
        # read from the index alone (200,000 matches: 12 ms against 70 ms). Elsewhere
        # autovacuum's insert threshold catches up within a minute.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (TargetMatch, TargetOUS):
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
    log.info("target list %s: matches refreshed at mirror %s", list_id, stamp)
    return True


def _store_matches(target_list: TargetList, sql: str) -> None:
    """The observations of ``sql`` (``cones_sql``) as the list's matches, each once with its
    project, member OUS and bands, then their distinct (project, member OUS) pairs with the
    project's code and the union of their matched rows' bands (two INSERT ... SELECT), then
    ``_store_summaries``."""
    quote = connection.ops.quote_name
    matches, ouses = quote(TargetMatch._meta.db_table), quote(TargetOUS._meta.db_table)
    mirror, projects = quote(Observation._meta.db_table), quote(Project._meta.db_table)
    list_pk = TargetList._meta.pk.get_db_prep_value(target_list.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {matches} (target_list_id, observation_id, project_id, member_ous_id, "
            f"band_mask) SELECT %s, o.id, o.project_id, o.member_ous_id, o.band_mask "
            f"FROM {mirror} o WHERE o.id IN (SELECT m.id FROM ({sql}) AS m)",
            [list_pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {ouses} (target_list_id, project_id, project_code, member_ous_id, "
                f"band_mask) SELECT %s, m.project_id, COALESCE(p.code, ''), m.member_ous_id, "
                f"BIT_OR(m.band_mask) FROM {matches} m LEFT JOIN {projects} p "
                "ON p.id = m.project_id WHERE m.target_list_id = %s "
                "GROUP BY m.project_id, p.code, m.member_ous_id",
                [list_pk, list_pk],
            )
            _store_summaries(target_list)
            return
    # SQLite (embedded mode) has no BIT_OR: the union is taken here.
    union: dict[tuple, int] = {}
    for project_id, mous_id, mask in TargetMatch.objects.filter(
        target_list=target_list
    ).values_list("project_id", "member_ous_id", "band_mask"):
        union[project_id, mous_id] = union.get((project_id, mous_id), 0) | mask
    codes = dict(Project.objects.filter(pk__in={p for p, _ in union}).values_list("pk", "code"))
    TargetOUS.objects.bulk_create(
        TargetOUS(
            target_list=target_list,
            project_id=p,
            project_code=codes.get(p, ""),
            member_ous_id=m,
            band_mask=mask,
        )
        for (p, m), mask in union.items()
    )
    _store_summaries(target_list)


def _store_summaries(target_list: TargetList) -> None:
    """The matches' number per band mask (``TargetBandCount``) and their projects with the
    union of their bands (``TargetProject``), both from the stored pairs and matches."""
    union: dict[tuple[int, str], int] = {}
    for project_id, code, mask in TargetOUS.objects.filter(
        target_list=target_list, project_id__isnull=False
    ).values_list("project_id", "project_code", "band_mask"):
        union[project_id, code] = union.get((project_id, code), 0) | mask
    TargetProject.objects.bulk_create(
        (
            TargetProject(target_list=target_list, project_id=p, code=code, band_mask=mask)
            for (p, code), mask in union.items()
        ),
        batch_size=5000,
    )
    TargetBandCount.objects.bulk_create(
        TargetBandCount(target_list=target_list, band_mask=mask, matches=n)
        for mask, n in TargetMatch.objects.filter(target_list=target_list)
        .order_by()
        .values("band_mask")
        .annotate(n=Count("id"))
        .values_list("band_mask", "n")
    )


def search_row(row: TargetRow) -> None:
    """Resolve the row's name when it has one, then count the observations in its cone."""
    if row.name:
        try:
            row.ra, row.dec = resolve(row.name)
        except NameNotResolved as exc:
            row.status = RowStatus.UNRESOLVED
            row.reason = f"Line {row.number}: '{row.name}' {exc.message}"
            row.save(update_fields=["status", "reason"])
            return
    cone = syntax.Cone(row.ra, row.dec, row.radius or syntax.DEFAULT_RADIUS_DEG)
    row.match_count = Observation.objects.filter(cone_q(cone)).count()
    row.status = RowStatus.SEARCHED
    row.save(update_fields=["ra", "dec", "status", "match_count"])
