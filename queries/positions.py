"""``ObservedPosition``: the observations as the cone and band tests see them, kept in step with
the rows (``queries.selectors.position_matches`` says which searches read it).

Why: the project view of a cone needs the distinct (project, member OUS) pairs of its matches and
their source names. Read from the observations, the Orion cone (0.2 degrees, 1M rows) scans
55,000 index entries for 22,631 matches and 2,996 pairs, then joins 1,798 projects to rank them
by code: 18-21 ms. ObsCore repeats each pointing once per spectral window with only the
footprint differing, so one row per (project, member OUS, position, band mask, source name) with
the widest footprint (247,524 for 1M rows; 13,666 in Orion's box instead of 54,975) answers the
same question exactly: a cone matches a row when its centre is within radius + s_fov/2, which
only grows with s_fov, so some row of a position matches exactly when the widest one does, and
band masks and names are part of the key. Carrying the project's code, the page's projects rank
without reading ``Project``.

Kept by ``refresh_positions``, called where the hierarchy is derived from the rows
(``queries.hierarchy.rebuild_hierarchy``: the loader, the harvest, the live search's upserts)
and by ``synth_archive``; tests hold the table equal to the rows' reduction after each path.
"""

from __future__ import annotations

from django.db import connection, transaction

from queries import bulk_indexes
from queries.hierarchy_sql import for_large_statements
from queries.models import Observation, ObservedPosition, Project

POSITIONS = ObservedPosition._meta.db_table
# The position's key besides project and member OUS; s_fov is the widest of its rows (see the
# module's docstring).
KEY = ("target_name", "band_mask", "s_ra", "s_dec", "s_x", "s_y", "s_z")
# Codes per statement where they go as one parameter each (not PostgreSQL's one array).
CHUNK = 500


def refresh_positions(codes: list[str] | None = None) -> None:
    """Recompute the positions of the projects ``codes`` (every project when None) from their
    rows, after the hierarchy linked them (``project_id``, ``member_ous_id``). A project whose
    rows are all gone loses its positions. Rows not linked to a project are left out: the
    project view never lists them. Two writers refreshing one project at once can leave its
    positions twice until the next refresh; the reads take distinct projects, member OUSs and
    names, so no page changes."""
    if codes == []:
        return
    if codes is not None and connection.vendor != "postgresql" and len(codes) > CHUNK:
        with transaction.atomic():  # SQLite's bound parameters are limited: a list at a time
            for start in range(0, len(codes), CHUNK):
                refresh_positions(codes[start : start + CHUNK])
        return
    quote = connection.ops.quote_name
    obs, project = quote(Observation._meta.db_table), quote(Project._meta.db_table)
    if codes is None:
        only, params = "", []
    elif connection.vendor == "postgresql":
        only, params = "WHERE p.code = ANY(%s)", [list(codes)]
    else:
        only, params = f"WHERE p.code IN ({', '.join(['%s'] * len(codes))})", list(codes)
    # The rows of those projects (all rows when every project's positions are due).
    of = f"WHERE o.project_id IN (SELECT p.id FROM {project} p {only})" if only else ""
    key = ", ".join(f"o.{quote(c)}" for c in KEY)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for_large_statements(cursor)  # the GROUP BY hashes in memory: 1M rows, 1.6 s
        cursor.execute(
            f"DELETE FROM {quote(POSITIONS)} WHERE project_id IN "
            f"(SELECT p.id FROM {project} p {only})",
            params,
        )
        # Filling an empty table (a first load, every project): its indexes are built once
        # afterwards, not kept entry by entry (``queries.bulk_indexes``; 247,524 rows took
        # 6.7-7.3 s so against 8.9-10.5 s, load 4.5-5). Readers of the table then wait for the
        # writer's commit, as the observations' do after a first load.
        deferred = []
        if bulk_indexes.is_postgresql():
            cursor.execute(f"SELECT NOT EXISTS (SELECT FROM {quote(POSITIONS)})")
            if cursor.fetchone()[0]:
                deferred = bulk_indexes.drop(POSITIONS, with_foreign_keys=True)
        # Grouped first, then joined to the projects for their codes: the join then carries
        # the 247,524 positions of a million rows, not the rows (2.1-2.4 s against 2.6-2.8 s
        # for a first load's, EXPLAIN ANALYZE without the observations' indexes).
        cursor.execute(
            f"INSERT INTO {quote(POSITIONS)} (project_id, member_ous_id, code, "
            f"{', '.join(quote(c) for c in KEY)}, s_fov) "
            f"SELECT o.project_id, o.member_ous_id, p.code, {key}, o.s_fov FROM ("
            f"SELECT o.project_id, o.member_ous_id, {key}, MAX(o.s_fov) AS s_fov "
            f"FROM {obs} o {of} GROUP BY o.project_id, o.member_ous_id, {key}"
            f") o JOIN {project} p ON p.id = o.project_id",
            params,
        )
        bulk_indexes.build(deferred)
