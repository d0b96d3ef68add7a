"""Reads of target lists: a member's lists, one list's rows and progress, the cones a search
uses, and which targets each shown result row matches."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL

from harvest.models import ObservationChange
from queries import counts, syntax
from queries.fields import ParsedQuery
from queries.filters import band_bits_q, max_half_fov
from queries.models import Observation
from queries.selectors import KnownMatches, clamp_page, rows_of_page
from queries.units import galactic_to_icrs, unit_vector
from targets import access
from targets.access import may_read
from targets.models import (
    RowStatus,
    TargetBandCount,
    TargetList,
    TargetMatch,
    TargetOUS,
    TargetProject,
    TargetRow,
)


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


@dataclass(frozen=True)
class SearchableList:
    targets: list[Target]
    matched_stamp: str  # the mirror state its stored matches are of ("" for none yet)


def list_for_search(list_id: str) -> SearchableList | str:
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
    return SearchableList(targets, target_list.matched_stamp)


def target_labels(node, positions) -> dict[str, str]:
    """``obs_id`` -> the labels of every target whose cone matches the row, joined by '; '.

    ``node`` is the ``target_list`` field's node (cones and labels), ``positions`` rows of
    (obs_id, s_ra, s_dec, s_fov). The cone test is ``queries.filters.cone_q``'s (centre within
    radius + s_fov/2) as one matrix product, so its cost hardly grows with the list's length.
    """
    return {
        obs_id: "; ".join(node.labels[j] for j in hits) for obs_id, hits in _hits(node, positions)
    }


LABEL_CHUNK = 20_000  # rows per pass: bounds the candidate pairs a long export builds at once
# Added to the declination window of a cone: more than the exact test's tolerance (1e-12 on a
# dot product is up to ~1e-4 degrees of separation), so the window never drops a hit.
DEC_MARGIN = 1e-3


def _vectors(ra, dec) -> np.ndarray:
    """Unit vectors (n x 3) of positions in degrees (``queries.units.unit_vector``, in bulk)."""
    ra, dec = np.radians(ra), np.radians(dec)
    return np.column_stack((np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)))


def _hits(node, positions) -> Iterator[tuple[str, list[int]]]:
    """(obs_id, indexes of the cones it is in, ascending) for each row of ``positions`` in any
    cone, in the rows' order.

    A row and a cone are tested only when their declinations differ by less than the cone's
    radius, the row's half footprint and the widest radius of the list (a separation is never
    less than the difference of declinations): the cones, sorted by declination, give each row
    its window by binary search, and the exact test runs on those pairs alone. Testing every
    row against every cone (the project view's 2,300 rows x 1,000 cones) took 80 ms."""
    positions = [p for p in positions if p[1] is not None and p[2] is not None]
    if not positions or not node.alternatives:
        return
    cones = node.alternatives
    cone_dec = np.array([c.dec for c in cones], dtype=float)
    radii = np.array([c.radius for c in cones], dtype=float)
    centres = _vectors(np.array([c.ra for c in cones], dtype=float), cone_dec)
    by_dec = np.argsort(cone_dec, kind="stable")
    sorted_dec = cone_dec[by_dec]
    widest = float(radii.max())
    for start in range(0, len(positions), LABEL_CHUNK):
        chunk = positions[start : start + LABEL_CHUNK]
        ra = np.array([p[1] for p in chunk], dtype=float)
        dec = np.array([p[2] for p in chunk], dtype=float)
        half = np.array([(p[3] or 0.0) / 2 for p in chunk], dtype=float)
        reach = half + widest + DEC_MARGIN
        low = np.searchsorted(sorted_dec, dec - reach, side="left")
        high = np.searchsorted(sorted_dec, dec + reach, side="right")
        counts = high - low
        if not counts.sum():
            continue
        i = np.repeat(np.arange(len(chunk)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        j = by_dec[np.repeat(low, counts) + offsets]
        rows = _vectors(ra, dec)
        inside = (
            np.einsum("ij,ij->i", rows[i], centres[j])
            >= np.cos(np.radians(half[i] + radii[j])) - 1e-12
        )
        i, j = i[inside], j[inside]
        order = np.lexsort((j, i))
        rows_hit, cones_hit = i[order].tolist(), j[order].tolist()
        first = 0
        for k in range(1, len(rows_hit) + 1):
            if k == len(rows_hit) or rows_hit[k] != rows_hit[first]:
                yield chunk[rows_hit[first]][0], cones_hit[first:k]
                first = k


def project_labels(node, others: Q, codes: list[str]) -> dict[str, str]:
    """Project code -> the labels of the targets whose rows of the result fall in that project,
    sorted and joined by '; ' as the raw rows' labels are (a label from a line of coordinates
    holds a comma) (a project view page's ``target`` column).

    ``others`` is the search without its target list: the rows of these projects that pass it
    and lie in one of the list's cones are exactly the result's rows there (the cone test is
    ``cones_q``'s), so one query on the project code index gives them without joining the
    mirror with the list's cones again.
    """
    if not codes:
        return {}
    rows = list(
        Observation.objects.filter(others, proposal_id__in=codes).values_list(
            "proposal_id", "obs_id", "s_ra", "s_dec", "s_fov"
        )
    )
    project_of = {obs_id: code for code, obs_id, *_ in rows}
    found: dict[str, set[str]] = {}
    for obs_id, hits in _hits(node, [row[1:] for row in rows]):
        found.setdefault(project_of[obs_id], set()).update(node.labels[j] for j in hits)
    return {code: "; ".join(sorted(labels)) for code, labels in found.items()}


def page_labels(node, obs_ids: list[str]) -> dict[str, str]:
    """``target_labels`` for the rows of one result page: one query for their positions."""
    if not obs_ids:
        return {}
    positions = Observation.objects.filter(obs_id__in=obs_ids).values_list(
        "obs_id", "s_ra", "s_dec", "s_fov"
    )
    return target_labels(node, list(positions))


def _stamp_sql() -> str:
    if connection.vendor == "postgresql":
        return f"CAST({counts.changed_sql(Observation._meta.db_table)} AS TEXT)"
    quote = connection.ops.quote_name
    return (
        f"CAST(COALESCE((SELECT MAX(id) FROM {quote(Observation._meta.db_table)}), 0) AS TEXT)"
        f" || '.' || CAST(COALESCE((SELECT MAX(id) FROM "
        f"{quote(ObservationChange._meta.db_table)}), 0) AS TEXT)"
    )


def mirror_stamp() -> str:
    """The mirror's state as far as a list's matches care, one statement. On PostgreSQL the
    newest write to the observations in the mirror's change log (``queries.counts``: any
    INSERT, UPDATE or DELETE, by a harvest, a load or a live search's upsert). On SQLite (no
    triggers there) the newest observation id and the newest entry of the harvest's change
    journal, which sees new, corrected and removed rows but not an in-place upsert."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_stamp_sql()}")
        return cursor.fetchone()[0]


def list_q(node) -> Q:
    """The observations of a target-list search: the list's ``TargetMatch`` rows, one indexed
    lookup, once they are current for the mirror (``services.refresh_matches`` brings them up
    to date in one statement when the mirror has changed since), else the join of
    ``cones_q``.

    Why: with 1,000 cones the join probes the sky index 1,000 times on every statement that
    uses the filter (count, page, project view), 0.5-1 s each on 200,000 rows; and PostgreSQL
    cannot hash a subquery that large when the project view tests it per row (40 s).
    """
    from targets.services import refresh_matches  # services import this module

    if not node.list_id:
        return cones_q(node.alternatives)
    stamp = mirror_stamp()
    if node.matched_stamp == stamp or refresh_matches(node.list_id, node.alternatives, stamp=stamp):
        return Q(
            pk__in=TargetMatch.objects.filter(target_list_id=node.list_id).values("observation_id")
        )
    return cones_q(node.alternatives)


def narrow_q(others: ParsedQuery | None, *, per_row: bool = True) -> Q | None:
    """The rest of a search over a list as a test of the list's stored rows, when the stored
    columns answer it: nothing (``Q()``), or a band list alone (the bit test of
    ``band_mask``, which ``queries.filters.bands_q`` applies to observations); else None.

    ``per_row=False`` is for the ``TargetOUS`` pairs, whose mask is the union of their matched
    rows': "some row has one of these bands" is a test of the union, "no band of these" is not.
    """
    if others is None or not others.constraints:
        return Q()
    band = others.constraints.get("band_list")
    if band is None or len(others.constraints) != 1 or (band.negated and not per_row):
        return None
    return band_bits_q(band)


def match_count(node, others: ParsedQuery | None = None) -> int | None:
    """The number of the search's observations, from the list's stored count per band mask
    (``TargetBandCount``), when its matches are current for the mirror and the rest of the
    search (``others``) is one they answer (``narrow_q``), else None; one statement. Current
    matches are observations of the mirror, each once: an observation removed since, or one
    whose band changed, would have moved the stamp (``mirror_stamp``)."""
    narrow = narrow_q(others)
    if not node.list_id or narrow is None:
        return None
    list_pk = TargetList._meta.pk.get_db_prep_value(uuid.UUID(node.list_id), connection)
    counted = (
        TargetBandCount.objects.filter(narrow, target_list_id=node.list_id)
        .order_by()
        .values("matches")
    )
    inner, params = counted.query.sql_with_params()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.matched_stamp = {_stamp_sql()}, "
            f"(SELECT COALESCE(SUM(c.matches), 0) FROM ({inner}) c) "
            f"FROM {quote(TargetList._meta.db_table)} l WHERE l.id = %s",
            [*params, list_pk],
        )
        found = cursor.fetchone()
    if found is None or not found[0]:
        return None
    return found[1]


def known_matches(node, others: ParsedQuery | None = None) -> KnownMatches | None:
    """The project view's reads of a search over the list from its stored rows (the distinct
    (project, member OUS) pairs in ``TargetOUS``, a page's rows in ``TargetMatch``), when they
    are current for the mirror, were linked to the hierarchy when stored, and answer the rest
    of the search (``narrow_q``); else None, and the project view reduces the matches through
    the mirror. One statement.

    Why: the 200,000 matches of a 1,000-target list on a 1M-row mirror reduced to their
    21,000 pairs through the mirror took 400-900 ms a page; read from the stored pairs, a
    few ms."""
    pairs_q = narrow_q(others, per_row=False)
    if not node.list_id or pairs_q is None:
        return None
    rows_q = narrow_q(others)
    list_pk = TargetList._meta.pk.get_db_prep_value(uuid.UUID(node.list_id), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.matched_stamp = {_stamp_sql()} AND l.matches_linked "
            f"FROM {connection.ops.quote_name(TargetList._meta.db_table)} l WHERE l.id = %s",
            [list_pk],
        )
        found = cursor.fetchone()
    if found is None or not found[0]:
        return None
    list_id = node.list_id

    def rows_of(mous_ids: list[int]) -> Q:
        return Q(
            pk__in=TargetMatch.objects.filter(
                rows_q, target_list_id=list_id, member_ous_id__in=mous_ids
            ).values("observation_id")
        )

    return KnownMatches(
        projects=partial(
            _projects_of_list,
            TargetProject.objects.filter(pairs_q, target_list_id=list_id),
            TargetOUS.objects.filter(pairs_q, target_list_id=list_id),
        ),
        rows_q=rows_of,
    )


def _projects_of_list(
    projects: QuerySet, pairs: QuerySet, *, descending: bool, page: int, size: int
) -> tuple[list[int], list[int], int, int]:
    """``queries.selectors._projects_of_matches`` read from a list's ``TargetProject`` rows
    (``projects``) and ``TargetOUS`` rows (``pairs``), each with the rest of the search's test:
    (the page's project ids in code order, their member OUS ids, the number of projects, the
    page number). One statement on PostgreSQL: the projects counted, the page's cut from the
    (list, code) index, then its pairs. Ranking 11,000 projects joined with their table took
    30 ms; the distinct codes of the 21,000 pairs, 7 ms."""
    projects, pairs = projects.order_by(), pairs.order_by()
    order = "-code" if descending else "code"
    if connection.vendor != "postgresql":
        total = projects.count()
        number = clamp_page(page, total, size)
        start = (number - 1) * size
        page_ids = list(
            projects.order_by(order).values_list("project_id", flat=True)[start : start + size]
        )
        mouses = pairs.filter(project_id__in=page_ids, member_ous_id__isnull=False)
        return page_ids, sorted(set(mouses.values_list("member_ous_id", flat=True))), total, number
    count_sql, count_params = projects.values("code").query.sql_with_params()
    pairs_sql, pairs_params = pairs.values("project_code", "member_ous_id").query.sql_with_params()
    direction = "DESC" if descending else "ASC"

    def run(number: int) -> list[tuple]:
        start = (number - 1) * size
        shown_sql, shown_params = (
            projects.order_by(order).values("code", "project_id")[start : start + size]
        ).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH total AS (SELECT COUNT(*) AS n FROM ({count_sql}) c), "
                f"shown(code, project_id) AS ({shown_sql}), pairs(code, mous_id) AS ({pairs_sql}) "
                "SELECT total.n, shown.project_id, pairs.mous_id FROM total "
                "LEFT JOIN shown ON TRUE LEFT JOIN pairs ON pairs.code = shown.code "
                f"ORDER BY shown.code {direction}, pairs.mous_id",
                [*count_params, *shown_params, *pairs_params],
            )
            return cursor.fetchall()

    found, number = rows_of_page(page, size, run)
    page_ids = list(dict.fromkeys(p for _, p, _ in found if p is not None))
    return page_ids, [m for _, _, m in found if m is not None], found[0][0], number


def cones_q(cones) -> Q:
    """Observations in any of ``cones``: the test of ``queries.filters.cone_q`` (centre within
    radius + s_fov/2 of the cone's centre, behind the same sky box padded by the widest
    footprint) written as one join of the mirror with the cones as a VALUES list.

    Why not the OR of ``cone_q``s: with 1,000 targets that is a 1,000-branch condition that
    PostgreSQL evaluates on every row of the mirror (4.5 s of SQL on 100,000 rows, and 2.5 s
    of Python building and compiling it); joined, each cone is one range probe of the
    ``(s_dec, s_ra)`` index, as a single cone search is. Values are floats written by ``repr``
    (no text from the upload reaches the SQL).
    """
    sql = cones_sql(cones)
    return Q(pk__in=RawSQL(sql, ())) if sql else Q(pk__in=[])


def cones_sql(cones) -> str:
    """The statement of ``cones_q``: the ids of the observations in any of ``cones`` (an id
    once per cone it is in), or "" for no cone."""
    boxes = [box for cone in cones for box in _boxes(cone)]
    if not boxes:
        return ""
    table = connection.ops.quote_name(Observation._meta.db_table)
    values = ", ".join("(" + ", ".join(repr(float(v)) for v in box) + ")" for box in boxes)
    columns = ("dlo", "dhi", "rlo", "rhi", "x", "y", "z", "r")
    if connection.vendor == "sqlite":  # SQLite names a VALUES list's columns column1..column8
        names = {c: f"t.column{i}" for i, c in enumerate(columns, start=1)}
        alias = "t"
    else:
        names = {c: f"t.{c}" for c in columns}
        alias = f"t({', '.join(columns)})"
    n = names
    sql = (
        f"SELECT o.id FROM {table} o JOIN (VALUES {values}) AS {alias} "
        f"ON o.s_dec BETWEEN {n['dlo']} AND {n['dhi']} "
        f"AND o.s_ra BETWEEN {n['rlo']} AND {n['rhi']} "
        f"AND o.s_x * {n['x']} + o.s_y * {n['y']} + o.s_z * {n['z']} "
        f">= COS(RADIANS({n['r']} + COALESCE(o.s_fov, 0.0) / 2))"
    )
    if connection.vendor == "postgresql":
        # A fence: PostgreSQL would otherwise pull the join up and test every mirror row,
        # in result order, against every cone (0.2 s for 100 cones on 100,000 rows).
        sql += " OFFSET 0"
    return sql


def _boxes(cone: syntax.Cone) -> list[tuple[float, ...]]:
    """The sky boxes (dec low, dec high, RA low, RA high) around ``cone``, each with the cone's
    unit vector and radius; two when the RA range wraps, the whole RA circle near a pole."""
    if cone.frame == "galactic":
        cone = syntax.Cone(*galactic_to_icrs(cone.ra, cone.dec), cone.radius)
    x, y, z = unit_vector(cone.ra, cone.dec)
    pad = cone.radius + max_half_fov() + 1e-9
    dlo, dhi = max(cone.dec - pad, -90.0), min(cone.dec + pad, 90.0)
    edge = abs(cone.dec) + pad
    half = 180.0 if edge >= 89.0 else pad / math.cos(math.radians(edge))
    low, high = cone.ra - half, cone.ra + half
    if half >= 180.0:
        ranges = [(0.0, 360.0)]
    elif low < 0:
        ranges = [(low + 360, 360.0), (0.0, high)]
    elif high >= 360:
        ranges = [(low, 360.0), (0.0, high - 360)]
    else:
        ranges = [(low, high)]
    return [(dlo, dhi, rlo, rhi, x, y, z, cone.radius) for rlo, rhi in ranges]
