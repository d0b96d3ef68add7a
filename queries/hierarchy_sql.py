"""The hierarchy rebuild on PostgreSQL: a few set-based statements instead of a row at a time.

``queries.hierarchy.rebuild_hierarchy`` calls ``rebuild`` on PostgreSQL; the Python loop there
stays for SQLite (embedded mode). Both apply the same rules, row for row, and
``tests/queries/test_hierarchy_sql.py`` holds their tables equal on the sample archive and on
rows built to hit every rule's corner:

- the row order is ``(proposal_id, obs_id)`` by code point (``COLLATE "C"``: the same order on
  any database, and sorted by plain byte comparison); "first" and "last" below are in it;
- a project takes, per text field, the first non-empty value of its rows, and keeps its own
  value where its rows have none; ``obs_creator_name`` stands in for the PI unless it names the
  observatory ("ALMA");
- a group OUS belongs to the project of its last row;
- a member OUS: project of its first row, group of its first row naming one, the latest release
  date (the one the access decider reads), "Proprietary" if any row says so (else its last
  row's rights), the union of the bands, distinct non-empty sources (sorted, ``", "``-joined,
  cut at 2,000 characters), per execution block the last row's exposure summed in the order
  the blocks first appear, the earliest ``t_min``, and the antenna array of its first row that
  has one (``queries.hierarchy.antenna_array``, the one rule, applied in Python to each
  distinct ``antenna_arrays`` text and joined in);
- an execution block belongs to the member OUS of its last row;
- every row is linked to its project and member OUS; a row, project, group, member OUS or block
  already as the rules say is not written again, so rebuilding unchanged data only reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from queries.models import (
    ExecutionBlock,
    GroupOUS,
    MemberOUS,
    Observation,
    Project,
    ProjectSummary,
)

OBS = Observation._meta.db_table
PROJECT = Project._meta.db_table
GROUP = GroupOUS._meta.db_table
MOUS = MemberOUS._meta.db_table
BLOCK = ExecutionBlock._meta.db_table
SUMMARY = ProjectSummary._meta.db_table

# The last row first, in the rows' order (code points, as the Python loop orders them).
LAST = 'o.proposal_id COLLATE "C" DESC, o.obs_id COLLATE "C" DESC'
# The ASCII whitespace Python's str.strip() removes, for the creator rule's btrim.
_WHITESPACE = " \t\n\r\x0b\x0c"


def _rows(codes: list[str] | None) -> str:
    """The observation rows of ``codes`` (all when None), as a FROM item aliased ``o``."""
    where = "" if codes is None else " WHERE proposal_id = ANY(%(codes)s)"
    return f"(SELECT * FROM {OBS}{where}) o"


def _upsert_projects(cursor, codes: list[str] | None) -> None:
    creator = (
        "CASE WHEN upper(btrim(o.obs_creator_name, %(ws)s)) = 'ALMA' THEN '' "
        "ELSE btrim(o.obs_creator_name, %(ws)s) END"
    )
    texts = {
        "title": "o.obs_title",
        "abstract": "o.proposal_abstract",
        "pi_name": "o.pi_name",
        "creator": creator,
        "pi_userid": "o.pi_userid",
        "proposal_authors": "o.proposal_authors",
        "science_keyword": "o.science_keyword",
        "scientific_category": "o.scientific_category",
    }
    # Per project and field, the first row (lowest obs_id) with a value: a hash aggregate of
    # narrow keys; the values themselves are then read from those rows by obs_id.
    firsts = ", ".join(
        f"min(o.obs_id COLLATE \"C\") FILTER (WHERE {sql} <> '') AS {name}"
        for name, sql in texts.items()
    )
    values = {
        name: f'(SELECT {sql} FROM {OBS} o WHERE o.obs_id = f.{name} COLLATE "default")'
        for name, sql in texts.items()
    }
    found = {
        "title": values["title"],
        "abstract": values["abstract"],
        "pi_name": f"left(COALESCE({values['pi_name']}, {values['creator']}), 256)",
        "pi_userid": f"left({values['pi_userid']}, 64)",
        "proposal_authors": values["proposal_authors"],
        "science_keyword": values["science_keyword"],
        "scientific_category": f"left({values['scientific_category']}, 200)",
    }
    names = ", ".join(found)
    inserted = ", ".join(f"COALESCE({sql}, '')" for sql in found.values())
    # Where the rows have no value, the project keeps its own (cut to the column, as save did).
    kept = {
        name: f"COALESCE(NULLIF(EXCLUDED.{name}, ''), p.{name})"
        for name in ("title", "abstract", "proposal_authors", "science_keyword")
    }
    kept |= {
        name: f"left(COALESCE(NULLIF(EXCLUDED.{name}, ''), p.{name}), {size})"
        for name, size in (("pi_name", 256), ("pi_userid", 64), ("scientific_category", 200))
    }
    sets = ", ".join(f"{name} = {sql}" for name, sql in kept.items())
    old = ", ".join(f"p.{name}" for name in kept)
    new = ", ".join(kept.values())
    cursor.execute(
        f"""
        INSERT INTO {PROJECT} AS p (code, {names}, is_synthetic)
        SELECT f.code, {inserted}, false FROM (
            SELECT o.proposal_id AS code, {firsts} FROM {_rows(codes)} GROUP BY o.proposal_id
        ) f
        ON CONFLICT (code) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})
        """,
        {"codes": codes, "ws": _WHITESPACE},
    )


def _upsert_groups(cursor, codes: list[str] | None) -> None:
    cursor.execute(
        f"""
        INSERT INTO {GROUP} AS g (uid, project_id)
        SELECT DISTINCT ON (o.group_ous_uid COLLATE "C") o.group_ous_uid, p.id
        FROM {_rows(codes)} JOIN {PROJECT} p ON p.code = o.proposal_id
        WHERE o.group_ous_uid <> ''
        ORDER BY o.group_ous_uid COLLATE "C", {LAST}
        ON CONFLICT (uid) DO UPDATE SET project_id = EXCLUDED.project_id
        WHERE g.project_id <> EXCLUDED.project_id
        """,
        {"codes": codes},
    )


def _array_kinds(cursor, codes: list[str] | None) -> tuple[list[str], list[str]]:
    """Each distinct ``antenna_arrays`` text of the rows and its kind, by the one rule."""
    from queries.hierarchy import antenna_array

    cursor.execute(
        f"SELECT DISTINCT o.antenna_arrays FROM {_rows(codes)} "
        "WHERE o.member_ous_uid <> '' AND o.antenna_arrays <> ''",
        {"codes": codes},
    )
    texts = [text for (text,) in cursor.fetchall()]
    return texts, [antenna_array(text) for text in texts]


def _upsert_mouses(cursor, codes: list[str] | None) -> None:
    texts, kinds = _array_kinds(cursor, codes)
    aggregates = {
        "project_id": "p.id",
        "group_ous_id": "g.id",
        "release_date": "a.release_date",
        "data_rights": "a.data_rights",
        "band_mask": "a.band_mask",
        "n_observations": "a.n_observations",
        "n_sources": "COALESCE(s.n_sources, 0)",
        "target_names": "COALESCE(s.target_names, '')",
        "t_exptime": "t.t_exptime",
        "t_min": "a.t_min",
        "antenna_array": "a.antenna_array",
    }
    names = ", ".join(aggregates)
    values = ", ".join(aggregates.values())
    sets = ", ".join(f"{name} = EXCLUDED.{name}" for name in aggregates)
    old = ", ".join(f"m.{name}" for name in aggregates)
    new = ", ".join(f"EXCLUDED.{name}" for name in aggregates)
    cursor.execute(
        f"""
        WITH kinds AS (
            SELECT * FROM unnest(%(texts)s::text[], %(kinds)s::text[]) AS k(text, kind)
        ), rows AS MATERIALIZED (
            SELECT o.proposal_id COLLATE "C" AS proposal_id, o.obs_id COLLATE "C" AS obs_id,
                   o.group_ous_uid, o.member_ous_uid COLLATE "C" AS member_ous_uid,
                   o.asdm_uid COLLATE "C" AS asdm_uid,
                   o.obs_release_date, o.data_rights, o.band_mask, o.t_exptime,
                   o.target_name COLLATE "C" AS target_name,
                   o.t_min, COALESCE(k.kind, '') AS kind
            FROM {_rows(codes)} LEFT JOIN kinds k ON k.text = o.antenna_arrays
            WHERE o.member_ous_uid <> ''
        ), a AS (
            -- First and last in row order: (proposal_id, obs_id) is unique, so the minimum of
            -- ARRAY[proposal_id, obs_id, value] is the first row's and its value comes along.
            SELECT member_ous_uid,
                   min(proposal_id) AS code,
                   (min(ARRAY[proposal_id, obs_id, group_ous_uid])
                       FILTER (WHERE group_ous_uid <> ''))[3] AS group_uid,
                   max(obs_release_date) AS release_date,
                   CASE WHEN bool_or(data_rights = 'Proprietary') THEN 'Proprietary'
                        ELSE (max(ARRAY[proposal_id, obs_id, data_rights]))[3]
                   END AS data_rights,
                   COALESCE(bit_or(band_mask), 0) AS band_mask,
                   count(*) AS n_observations,
                   min(t_min) AS t_min,
                   COALESCE((min(ARRAY[proposal_id, obs_id, kind])
                       FILTER (WHERE kind <> ''))[3], '') AS antenna_array
            FROM rows GROUP BY member_ous_uid
        ), sources AS (
            -- Sorted by code point, as Python sorts: the C collation's byte order.
            SELECT member_ous_uid, count(*) AS n_sources,
                   left(string_agg(target_name, ', ' ORDER BY target_name), 2000) AS target_names
            FROM (SELECT DISTINCT member_ous_uid, target_name FROM rows
                  WHERE target_name <> '') distinct_sources
            GROUP BY member_ous_uid
        ), blocks AS (
            -- Per execution block: the last row's exposure, and where the block first appears.
            SELECT member_ous_uid,
                   (array_agg(t_exptime ORDER BY proposal_id DESC, obs_id DESC))[1]
                       AS t_exptime,
                   min(ARRAY[proposal_id, obs_id]) AS first_seen
            FROM rows WHERE asdm_uid <> '' GROUP BY member_ous_uid, asdm_uid
        ), t AS (
            SELECT member_ous_uid, sum(t_exptime ORDER BY first_seen) AS t_exptime
            FROM blocks GROUP BY member_ous_uid
        )
        INSERT INTO {MOUS} AS m (uid, {names})
        SELECT a.member_ous_uid, {values}
        FROM a JOIN {PROJECT} p ON p.code = a.code COLLATE "default"
        LEFT JOIN {GROUP} g ON g.uid = a.group_uid
        LEFT JOIN sources s ON s.member_ous_uid = a.member_ous_uid
        LEFT JOIN t ON t.member_ous_uid = a.member_ous_uid
        ON CONFLICT (uid) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})
        """,
        {"codes": codes, "texts": texts, "kinds": kinds},
    )


def _upsert_blocks(cursor, codes: list[str] | None) -> None:
    cursor.execute(
        f"""
        INSERT INTO {BLOCK} AS b (asdm_uid, member_ous_id, schedblock_name)
        SELECT last.asdm_uid, m.id, left(last.schedblock_name, 128) FROM (
            SELECT DISTINCT ON (o.asdm_uid COLLATE "C") o.asdm_uid, o.member_ous_uid,
                   o.schedblock_name
            FROM {_rows(codes)} WHERE o.asdm_uid <> '' AND o.member_ous_uid <> ''
            ORDER BY o.asdm_uid COLLATE "C", {LAST}
        ) last JOIN {MOUS} m ON m.uid = last.member_ous_uid
        ON CONFLICT (asdm_uid) DO UPDATE
        SET member_ous_id = EXCLUDED.member_ous_id, schedblock_name = EXCLUDED.schedblock_name
        WHERE (b.member_ous_id, b.schedblock_name)
              IS DISTINCT FROM (EXCLUDED.member_ous_id, EXCLUDED.schedblock_name)
        """,
        {"codes": codes},
    )


def _link_observations(cursor, codes: list[str] | None) -> None:
    """Each row to its project and member OUS (none when no member OUS has its uid); a row
    already linked so is left alone (no new row version, no index entries).

    The rows to link are looked for first, and the table is updated only if there are: an
    ``UPDATE`` that changes nothing still locks the table against ``CREATE INDEX`` until the
    transaction ends, and a first load's rows, written linked, are indexed meanwhile
    (``harvest.bulk.build_alongside``).
    """
    where = "" if codes is None else "AND o.proposal_id = ANY(%(codes)s)"
    # (what the row is set to, joined tables, which rows): with and without a member OUS.
    links = [
        (
            "project_id = p.id, member_ous_id = m.id",
            f"{PROJECT} p, {MOUS} m",
            f"p.code = o.proposal_id AND m.uid = o.member_ous_uid {where} "
            "AND (o.project_id IS DISTINCT FROM p.id OR o.member_ous_id IS DISTINCT FROM m.id)",
        ),
        (
            "project_id = p.id, member_ous_id = NULL",
            f"{PROJECT} p",
            f"p.code = o.proposal_id {where} "
            f"AND NOT EXISTS (SELECT FROM {MOUS} m WHERE m.uid = o.member_ous_uid) "
            "AND (o.project_id IS DISTINCT FROM p.id OR o.member_ous_id IS NOT NULL)",
        ),
    ]
    due = " OR ".join(
        f"EXISTS (SELECT FROM {OBS} o, {joined} WHERE {rows})" for _, joined, rows in links
    )
    cursor.execute(f"SELECT {due}", {"codes": codes})
    if not cursor.fetchone()[0]:
        return
    for values, joined, rows in links:
        cursor.execute(f"UPDATE {OBS} o SET {values} FROM {joined} WHERE {rows}", {"codes": codes})


def for_large_statements(cursor) -> None:
    """Session settings for the rest of this transaction, for statements over a million rows:
    aggregates and CTEs then hash and keep their rows in memory rather than sort and spill to
    disk (the server's 4 MB made a first version sort 615 MB on disk), and nothing is
    compiled (JIT cost 0.4 s a statement and saved less)."""
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")


def ids_for(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """The ids of the projects and member OUSs of rows about to be inserted, by code and by
    uid, from their ``(proposal_id, member_ous_uid)``: a bulk load writes its rows already
    linked, so ``rebuild`` later finds their links right and rewrites none of them. A project or
    member OUS not there yet is created empty (no title, no release date: proprietary, no
    files) under the first of its codes; ``rebuild`` fills it from the rows."""
    codes: dict[str, None] = {}
    uids: dict[str, str] = {}
    # Every uid the rows name, the empty one too: a row without one links to a member OUS
    # only if one has that uid, as rebuild links it.
    named: set[str] = set()
    for code, uid in pairs:
        codes[code] = None
        named.add(uid)
        if uid and (uid not in uids or code < uids[uid]):
            uids[uid] = code  # the first code by code point, as rebuild decides later
    # Ids read by joining the wanted keys (a hash or nested-loop join): ``= ANY(array)`` of a
    # page's ~1,300 codes or ~1,700 uids took 30-90 ms a statement here, the join 5-27 ms.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PROJECT} (code, title, abstract, pi_name, pi_userid, "
            "proposal_authors, science_keyword, scientific_category, is_synthetic) "
            "SELECT code, '', '', '', '', '', '', '', false FROM unnest(%s::text[]) AS code "
            "ON CONFLICT (code) DO NOTHING",
            [list(codes)],
        )
        cursor.execute(
            f"SELECT p.code, p.id FROM unnest(%s::text[]) AS u(code) "
            f"JOIN {PROJECT} p ON p.code = u.code",
            [list(codes)],
        )
        project_ids = dict(cursor.fetchall())
        cursor.execute(
            f"INSERT INTO {MOUS} (uid, project_id, data_rights, band_mask, n_observations, "
            "n_sources, target_names, antenna_array) "
            "SELECT uid, project_id, '', 0, 0, 0, '', '' "
            "FROM unnest(%s::text[], %s::bigint[]) AS u(uid, project_id) "
            "ON CONFLICT (uid) DO NOTHING",
            [list(uids), [project_ids[code] for code in uids.values()]],
        )
        cursor.execute(
            f"SELECT m.uid, m.id FROM unnest(%s::text[]) AS u(uid) JOIN {MOUS} m ON m.uid = u.uid",
            [list(named)],
        )
        mous_ids = dict(cursor.fetchall())
    return project_ids, mous_ids


def rebuild(codes: list[str] | None) -> list[int]:
    """Derive the hierarchy of the projects ``codes`` (every project when None) from their
    rows; returns the ids of the projects that have rows (their summaries are due)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for_large_statements(cursor)
        _upsert_projects(cursor, codes)
        _upsert_groups(cursor, codes)
        _upsert_mouses(cursor, codes)
        _upsert_blocks(cursor, codes)
        _link_observations(cursor, codes)
        only = "" if codes is None else "p.code = ANY(%(codes)s) AND"
        cursor.execute(
            f"SELECT p.id FROM {PROJECT} p WHERE {only} "
            f"EXISTS (SELECT FROM {OBS} o WHERE o.proposal_id = p.code)",
            {"codes": codes},
        )
        return [pk for (pk,) in cursor.fetchall()]


def refresh_summaries(project_ids: list[int] | None) -> None:
    """``ProjectSummary`` of ``project_ids`` (all when None): code and the union of the
    member OUSs' bands."""
    where = "" if project_ids is None else "WHERE p.id = ANY(%(ids)s)"
    with transaction.atomic(), connection.cursor() as cursor:
        if project_ids is None:
            cursor.execute(f"DELETE FROM {SUMMARY}")
        else:
            cursor.execute(
                f"DELETE FROM {SUMMARY} WHERE project_id = ANY(%(ids)s)", {"ids": project_ids}
            )
        cursor.execute(
            f"""
            INSERT INTO {SUMMARY} (project_id, code, band_mask)
            SELECT p.id, p.code,
                   COALESCE((SELECT bit_or(m.band_mask) FROM {MOUS} m
                             WHERE m.project_id = p.id), 0)
            FROM {PROJECT} p {where}
            """,
            {"ids": project_ids},
        )
