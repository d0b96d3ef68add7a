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

The observation table is read once (``_read_rows``): the columns these rules read, into a
temporary table a fifth of its size that every statement then reads. Each statement reading
the 1.8 GB heap of a million rows again cost 1-2 s of scanning before any work, and sorts and
hashes carried the wide rows along; "first" and "last" are aggregates (``min``/``max`` of
``ARRAY[proposal_id, obs_id, value]``), not sorts of a million rows. Each pass over those rows
still costs ~1 s of a million (a hash of text keys and an array a row per "first" or "last"),
so the rows are aggregated once more, per project, set of texts, group, member OUS and block
(``_read_parts``: ~85,000 parts of a million rows), and the projects' texts, the groups, the
member OUSs' exposure, the blocks and the check of the rows' links read those parts.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from queries import bulk_indexes
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

# The ASCII whitespace Python's str.strip() removes, for the creator rule's btrim.
_WHITESPACE = " \t\n\r\x0b\x0c"


def _rows(codes: list[str] | None) -> str:
    """The observation rows of ``codes`` (all when None), as a FROM item aliased ``o``."""
    where = "" if codes is None else " WHERE proposal_id = ANY(%(codes)s)"
    return f"(SELECT * FROM {OBS}{where}) o"


# The temporary table of the rows' columns the rules read (``_read_rows``).
ROWS = "hierarchy_rows"
# The temporary table of the rows' parts (``_read_parts``).
PARTS = "hierarchy_parts"
_CREATOR = (
    "CASE WHEN upper(btrim(o.obs_creator_name, %(ws)s)) = 'ALMA' THEN '' "
    "ELSE btrim(o.obs_creator_name, %(ws)s) END"
)
# A project's text fields: what each is read from in a row.
_TEXTS = {
    "title": "o.obs_title",
    "abstract": "o.proposal_abstract",
    "pi_name": "o.pi_name",
    "creator": _CREATOR,
    "pi_userid": "o.pi_userid",
    "proposal_authors": "o.proposal_authors",
    "science_keyword": "o.science_keyword",
    "scientific_category": "o.scientific_category",
}
# Statistics target of the temporary tables' columns (``_analyze``).
_STATISTICS = 10
# Bit of each text field in ``ROWS.texts``: set where the row has a value for it.
_TEXT_BIT = {name: 1 << i for i, name in enumerate(_TEXTS)}


def _read_rows(cursor, codes: list[str] | None) -> None:
    """``ROWS``: the rows of ``codes`` (all when None), one scan of the observation table.

    Keys in the C collation (the rows' order, see the module doc); of the project texts only
    which a row has (``texts``, by ``_TEXT_BIT``): the values are read afterwards from the few
    rows that supply them. A million rows: 326 MB against the table's 1.8 GB.
    """
    flags = " | ".join(
        f"CASE WHEN {sql} <> '' THEN {_TEXT_BIT[name]} ELSE 0 END" for name, sql in _TEXTS.items()
    )
    c_keys = (
        "proposal_id",
        "obs_id",
        "group_ous_uid",
        "member_ous_uid",
        "asdm_uid",
        "schedblock_name",
        "target_name",
    )
    keys = ", ".join(f'o.{name} COLLATE "C" AS {name}' for name in c_keys)
    cursor.execute(f"DROP TABLE IF EXISTS {ROWS}")
    cursor.execute(
        f"""
        CREATE TEMP TABLE {ROWS} ON COMMIT DROP AS
        SELECT o.id, o.project_id, o.member_ous_id, {keys},
               o.obs_release_date, o.data_rights, o.band_mask, o.t_exptime, o.t_min,
               o.antenna_arrays, {flags} AS texts
        FROM {_rows(codes)}
        """,
        {"codes": codes, "ws": _WHITESPACE},
    )
    _analyze(cursor, ROWS)


def _analyze(cursor, table: str) -> None:
    """Count the temporary ``table``'s rows and keys, so each statement reading it hashes what
    is small and aggregates in memory: from a sample of 3,000 rows, which tells that as well
    as the default 30,000 and costs a tenth (0.5 s of a million rows)."""
    cursor.execute(
        "SELECT attname FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [f"pg_temp.{table}"],
    )
    sample = ", ".join(
        f"ALTER COLUMN {name} SET STATISTICS {_STATISTICS}" for (name,) in cursor.fetchall()
    )
    cursor.execute(f"ALTER TABLE {table} {sample}")
    cursor.execute(f"ANALYZE {table}")


def _upsert_projects(cursor) -> list[int]:
    """Write the projects' texts as their rows say; return the ids of the projects that have
    rows (their summaries are due)."""
    # Per project and field, the first row (lowest obs_id) with a value: the lowest of its
    # parts' first rows, a part's rows having one set of fields present. The values are then
    # read from those rows by obs_id: the earliest of them once for every field it supplies
    # (nearly always all of them), the others each.
    firsts = ", ".join(
        f"min(t.first_obs) FILTER (WHERE t.texts & {_TEXT_BIT[name]} <> 0) AS {name}"
        for name in _TEXTS
    )
    values = {
        name: f"CASE WHEN f.{name} = f.first THEN {sql} ELSE "
        f'(SELECT {sql} FROM {OBS} o WHERE o.obs_id = f.{name} COLLATE "default") END'
        for name, sql in _TEXTS.items()
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
    inserted = ", ".join(f"COALESCE({sql}, '') AS {name}" for name, sql in found.items())
    earliest = ", ".join(f"f.{name}" for name in _TEXTS)
    # The projects' texts as the rows say, first: how many projects they change decides
    # whether the projects' own indexes (three of them trigram GIN) are kept entry by entry
    # or built again after (``queries.bulk_indexes``; a first load fills every project
    # ``ids_for`` created empty: 30,656 of them kept their indexes current in ~7 s).
    cursor.execute(
        f"""
        CREATE TEMP TABLE project_texts ON COMMIT DROP AS
        SELECT f.code, {inserted} FROM (
            SELECT f.*, LEAST({earliest}) AS first FROM (
                SELECT t.proposal_id AS code, {firsts} FROM {PARTS} t GROUP BY t.proposal_id
            ) f
        ) f LEFT JOIN {OBS} o ON o.obs_id = f.first COLLATE "default"
        """,
        {"ws": _WHITESPACE},
    )
    kept, new = _kept("t"), _kept("EXCLUDED")
    old = ", ".join(f"p.{name}" for name in kept)
    cursor.execute(
        f"SELECT count(*) FROM project_texts t LEFT JOIN {PROJECT} p "
        f'ON p.code = t.code COLLATE "default" '
        f"WHERE p.id IS NULL OR ({old}) IS DISTINCT FROM ({', '.join(kept.values())})"
    )
    (written,) = cursor.fetchone()
    if written:
        with bulk_indexes.deferred([(Project, written)]):
            # As ``_write`` does: the projects there already by a join (an upsert checks and
            # locks each conflict), then the new ones by upsert.
            cursor.execute(
                f"UPDATE {PROJECT} p SET {', '.join(f'{n} = {sql}' for n, sql in kept.items())} "
                f'FROM project_texts t WHERE p.code = t.code COLLATE "default" '
                f"AND ({old}) IS DISTINCT FROM ({', '.join(kept.values())})"
            )
            cursor.execute(
                "CREATE TEMP TABLE new_projects ON COMMIT DROP AS SELECT code FROM project_texts"
            )
            _only_new(cursor, "new_projects", PROJECT, "code")
            cursor.execute(
                f"""
                INSERT INTO {PROJECT} AS p (code, {names}, is_synthetic)
                SELECT t.code, {names}, false FROM project_texts t JOIN new_projects USING (code)
                ON CONFLICT (code) DO UPDATE
                SET {", ".join(f"{name} = {sql}" for name, sql in new.items())}
                WHERE ({old}) IS DISTINCT FROM ({", ".join(new.values())})
                """
            )
            cursor.execute("DROP TABLE new_projects")
    cursor.execute(
        f'SELECT p.id FROM project_texts t JOIN {PROJECT} p ON p.code = t.code COLLATE "default"'
    )
    project_ids = [pk for (pk,) in cursor.fetchall()]
    cursor.execute("DROP TABLE project_texts")
    return project_ids


def _kept(found: str) -> dict[str, str]:
    """Each text field as written over a project ``p`` from ``found``'s values: where the rows
    have no value, the project keeps its own (cut to the column, as save did)."""
    kept = {
        name: f"COALESCE(NULLIF({found}.{name}, ''), p.{name})"
        for name in ("title", "abstract", "proposal_authors", "science_keyword")
    }
    kept |= {
        name: f"left(COALESCE(NULLIF({found}.{name}, ''), p.{name}), {size})"
        for name, size in (("pi_name", 256), ("pi_userid", 64), ("scientific_category", 200))
    }
    return kept


def _write(cursor, model, key: str, columns: list[str], values: str, params=None) -> None:
    """Upsert the rows of ``values`` (a SELECT of ``key`` and ``columns``) into ``model``'s
    table by ``key``, writing only those new or changed.

    The rows are counted before they are written: as many as the table holds (a first load
    derives every group, member OUS and block, most of them new or created empty by
    ``ids_for``) and the table's secondary indexes and keys are built once after, not kept
    entry by entry with a queued key check per row (``queries.bulk_indexes``'s rule).
    """
    table = model._meta.db_table
    names = ", ".join(columns)
    old = ", ".join(f"x.{name}" for name in columns)
    derived = ", ".join(f"v.{name}" for name in columns)
    cursor.execute(f"CREATE TEMP TABLE derived ON COMMIT DROP AS {values}", params)
    cursor.execute(
        f"SELECT count(*) FROM derived v LEFT JOIN {table} x "
        f'ON x.{key} = v.{key} COLLATE "default" '
        f"WHERE x.{key} IS NULL OR ({old}) IS DISTINCT FROM ({derived})"
    )
    (written,) = cursor.fetchone()
    if written:
        with bulk_indexes.deferred([(model, written)], with_foreign_keys=True):
            # The rows there already, by a join (an upsert checks and locks each conflict:
            # 83,656 member OUSs took 3 s); then the new ones, by upsert in case another
            # writer has just added one. The new ones are what is left in ``derived`` once
            # the others are taken out (``_only_new``).
            cursor.execute(
                f"UPDATE {table} x SET {', '.join(f'{n} = v.{n}' for n in columns)} "
                f'FROM derived v WHERE x.{key} = v.{key} COLLATE "default" '
                f"AND ({old}) IS DISTINCT FROM ({derived})"
            )
            _only_new(cursor, "derived", table, key)
            cursor.execute(
                f"""
                INSERT INTO {table} AS x ({key}, {names}) SELECT {key}, {names} FROM derived v
                ON CONFLICT ({key}) DO UPDATE
                SET {", ".join(f"{name} = EXCLUDED.{name}" for name in columns)}
                WHERE ({old}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{n}" for n in columns)})
                """
            )
    cursor.execute("DROP TABLE derived")


def _only_new(cursor, derived: str, table: str, key: str) -> None:
    """Take out of the temporary table ``derived`` the rows whose ``key`` ``table`` has.

    Before the insert of the rest, not as its ``WHERE NOT EXISTS``: a table empty when the
    insert is planned (a first load's groups and blocks, once analysed so) is anti-joined by a
    nested loop reading it whole for each row, and it grows by each row inserted (83,656
    blocks took 105 s).
    """
    cursor.execute(
        f'DELETE FROM {derived} v USING {table} x WHERE x.{key} = v.{key} COLLATE "default"'
    )


def _upsert_groups(cursor) -> None:
    # The last row's project: the greatest code, since rows are ordered by code first.
    _write(
        cursor,
        GroupOUS,
        "uid",
        ["project_id"],
        f"""
        SELECT l.uid, p.id AS project_id FROM (
            SELECT r.group_ous_uid AS uid, max(r.proposal_id) AS code
            FROM {PARTS} r WHERE r.group_ous_uid <> '' GROUP BY r.group_ous_uid
        ) l JOIN {PROJECT} p ON p.code = l.code COLLATE "default"
        """,
    )


def _array_kinds(cursor) -> tuple[list[str], list[str]]:
    """Each distinct ``antenna_arrays`` text of the rows and its kind, by the one rule."""
    from queries.hierarchy import antenna_array

    cursor.execute(
        f"SELECT DISTINCT r.antenna_arrays FROM {ROWS} r "
        "WHERE r.member_ous_uid <> '' AND r.antenna_arrays <> ''"
    )
    texts = [text for (text,) in cursor.fetchall()]
    return texts, [antenna_array(text) for text in texts]


def _upsert_mouses(cursor) -> None:
    texts, kinds = _array_kinds(cursor)
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
    values = ", ".join(f"{sql} AS {name}" for name, sql in aggregates.items())
    _write(
        cursor,
        MemberOUS,
        "uid",
        list(aggregates),
        f"""
        WITH kinds AS (
            SELECT * FROM unnest(%(texts)s::text[], %(kinds)s::text[]) AS k(text, kind)
        ), a AS (
            -- First and last in row order: (proposal_id, obs_id) is unique, so the minimum of
            -- ARRAY[proposal_id, obs_id, value] is the first row's and its value comes along.
            SELECT r.member_ous_uid,
                   min(r.proposal_id) AS code,
                   (min(ARRAY[r.proposal_id, r.obs_id, r.group_ous_uid])
                       FILTER (WHERE r.group_ous_uid <> ''))[3] AS group_uid,
                   max(r.obs_release_date) AS release_date,
                   CASE WHEN bool_or(r.data_rights = 'Proprietary') THEN 'Proprietary'
                        ELSE (max(ARRAY[r.proposal_id, r.obs_id, r.data_rights]))[3]
                   END AS data_rights,
                   COALESCE(bit_or(r.band_mask), 0) AS band_mask,
                   count(*) AS n_observations,
                   min(r.t_min) AS t_min,
                   COALESCE((min(ARRAY[r.proposal_id, r.obs_id, k.kind])
                       FILTER (WHERE k.kind <> ''))[3], '') AS antenna_array
            FROM {ROWS} r LEFT JOIN kinds k ON k.text = r.antenna_arrays
            WHERE r.member_ous_uid <> '' GROUP BY r.member_ous_uid
        ), sources AS (
            -- Sorted by code point, as Python sorts: the C collation's byte order.
            SELECT member_ous_uid, count(*) AS n_sources,
                   left(string_agg(target_name, ', ' ORDER BY target_name), 2000) AS target_names
            FROM (SELECT DISTINCT member_ous_uid, target_name FROM {ROWS}
                  WHERE member_ous_uid <> '' AND target_name <> '') distinct_sources
            GROUP BY member_ous_uid
        ), blocks AS (
            -- Per execution block: the last row's exposure, and where the block first appears.
            SELECT member_ous_uid,
                   (max(ARRAY[proposal_id, last[1], last[2]]))[3]::float8 AS t_exptime,
                   min(ARRAY[proposal_id, first_obs]) AS first_seen
            FROM {PARTS} WHERE member_ous_uid <> '' AND asdm_uid <> ''
            GROUP BY member_ous_uid, asdm_uid
        ), t AS (
            SELECT member_ous_uid, sum(t_exptime ORDER BY first_seen) AS t_exptime
            FROM blocks GROUP BY member_ous_uid
        )
        SELECT a.member_ous_uid AS uid, {values}
        FROM a JOIN {PROJECT} p ON p.code = a.code COLLATE "default"
        LEFT JOIN {GROUP} g ON g.uid = a.group_uid COLLATE "default"
        LEFT JOIN sources s ON s.member_ous_uid = a.member_ous_uid
        LEFT JOIN t ON t.member_ous_uid = a.member_ous_uid
        """,
        {"texts": texts, "kinds": kinds},
    )


def _read_parts(cursor) -> None:
    """``PARTS``: the rows grouped by what the rules group them by (project and set of texts,
    group, member OUS, block), with per part its first row's obs_id, its last row's
    ``ARRAY[obs_id, t_exptime, schedblock_name]`` (its project is the part's: its rows are in
    (proposal_id, obs_id) order by obs_id) and the range of the rows' links.

    A rule grouping the rows coarser reads the parts: each reading the million rows itself cost
    0.5-1.7 s a statement (a hash of text keys, an array a row), a part ~12 rows' worth.
    """
    # ``extra_float_digits`` above 0: a float's text is the shortest that reads back to the
    # same float (the last row's exposure travels as text in the array).
    cursor.execute("SET LOCAL extra_float_digits = 1")
    cursor.execute(f"DROP TABLE IF EXISTS {PARTS}")
    cursor.execute(
        f"""
        CREATE TEMP TABLE {PARTS} ON COMMIT DROP AS
        SELECT proposal_id, texts, group_ous_uid, member_ous_uid, asdm_uid,
               min(obs_id) AS first_obs,
               max(ARRAY[obs_id, t_exptime::text, schedblock_name]) AS last,
               min(project_id) AS low_project, max(project_id) AS high_project,
               bool_or(project_id IS NULL) AS unlinked_project,
               min(member_ous_id) AS low_mous, max(member_ous_id) AS high_mous,
               bool_or(member_ous_id IS NULL) AS unlinked_mous
        FROM {ROWS} GROUP BY proposal_id, texts, group_ous_uid, member_ous_uid, asdm_uid
        """
    )
    _analyze(cursor, PARTS)


def _upsert_blocks(cursor) -> None:
    # The last row's member OUS and scheduling block name: the greatest of
    # ARRAY[proposal_id, obs_id, ...], as in ``_upsert_mouses``; (proposal_id, obs_id) is
    # unique, so the greatest of its parts' last rows is the block's last row.
    _write(
        cursor,
        ExecutionBlock,
        "asdm_uid",
        ["member_ous_id", "schedblock_name"],
        f"""
        SELECT last.asdm_uid, m.id AS member_ous_id,
               left(last.row[4], 128)::varchar(128) AS schedblock_name
        FROM (
            SELECT b.asdm_uid,
                   max(ARRAY[b.proposal_id, b.last[1], b.member_ous_uid, b.last[3]]) AS row
            FROM {PARTS} b WHERE b.asdm_uid <> '' AND b.member_ous_uid <> ''
            GROUP BY b.asdm_uid
        ) last JOIN {MOUS} m ON m.uid = last.row[3] COLLATE "default"
        """,
    )


def _link_observations(cursor) -> None:
    """Each row to its project and member OUS (none when no member OUS has its uid); a row
    already linked so is left alone (no new row version, no index entries).

    The rows to link are looked for in ``ROWS`` first, and the table is updated only if there
    are: an ``UPDATE`` that changes nothing still locks the table against ``CREATE INDEX``
    until the transaction ends, and a first load's rows, written linked, are indexed meanwhile
    (``harvest.bulk.build_alongside``). Whether any row is due is asked of ``PARTS`` before
    the rows: a part's rows are all due the same links (one code, one member OUS uid), and a
    first load's rows, all linked already, are then found so from ~85,000 parts rather than a
    million rows (counted, not ``EXISTS``: looking for a first one, the planner looks each part
    up by index, 0.9 s, where hashing them all takes 0.2 s).
    """
    cursor.execute(
        f"""
        SELECT count(*)
        FROM {PARTS} t JOIN {PROJECT} p ON p.code = t.proposal_id COLLATE "default"
        LEFT JOIN {MOUS} m ON m.uid = t.member_ous_uid COLLATE "default"
        WHERE t.unlinked_project OR t.low_project <> p.id OR t.high_project <> p.id
           OR CASE WHEN m.id IS NULL THEN t.high_mous IS NOT NULL
                   ELSE t.unlinked_mous OR t.low_mous <> m.id OR t.high_mous <> m.id END
        """
    )
    (due,) = cursor.fetchone()
    if not due:
        return
    cursor.execute(
        f"""
        CREATE TEMP TABLE due_links ON COMMIT DROP AS
        SELECT r.id, p.id AS project_id, m.id AS member_ous_id
        FROM {ROWS} r JOIN {PROJECT} p ON p.code = r.proposal_id COLLATE "default"
        LEFT JOIN {MOUS} m ON m.uid = r.member_ous_uid COLLATE "default"
        WHERE r.project_id IS DISTINCT FROM p.id OR r.member_ous_id IS DISTINCT FROM m.id
        """
    )
    if cursor.rowcount:
        cursor.execute(
            f"UPDATE {OBS} o SET project_id = d.project_id, member_ous_id = d.member_ous_id "
            "FROM due_links d WHERE o.id = d.id"
        )
    cursor.execute("DROP TABLE due_links")


def for_large_statements(cursor) -> None:
    """Session settings for the rest of this transaction, for statements over a million rows:
    aggregates and CTEs then hash and keep their rows in memory rather than sort and spill to
    disk (the server's 4 MB made a first version sort 615 MB on disk), and nothing is
    compiled (JIT cost 0.4 s a statement and saved less)."""
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")


def ids_for(
    pairs: Iterable[tuple[str, str]],
    known: tuple[dict[str, int], dict[str, int]] | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """The ids of the projects and member OUSs of rows about to be inserted, by code and by
    uid, from their ``(proposal_id, member_ous_uid)``: a bulk load writes its rows already
    linked, so ``rebuild`` later finds their links right and rewrites none of them. A project or
    member OUS not there yet is created empty (no title, no release date: proprietary, no
    files) under the first of its codes; ``rebuild`` fills it from the rows.

    ``known``: ids already read by code and by uid, of committed rows (a harvest's earlier
    pages: ``harvest.merge``), taken from there rather than asked again. A page of a first
    load names ~1,300 projects, half of them seen on earlier pages, and ~1,700 member OUSs,
    nearly all new: the new ones' ids come back from their insert (``RETURNING``), and only
    what it did not create (there already, or written meanwhile by a live search) is read.
    """
    known_projects, known_mouses = known if known is not None else ({}, {})
    # In the order the rows name them (the order new ids are given in).
    page_codes: dict[str, None] = {}
    page_uids: dict[str, None] = {}
    uids: dict[str, str] = {}
    for code, uid in pairs:
        page_codes[code] = None
        # Every uid the rows name, the empty one too: a row without one links to a member
        # OUS only if one has that uid, as rebuild links it.
        page_uids[uid] = None
        if uid and uid not in known_mouses and (uid not in uids or code < uids[uid]):
            uids[uid] = code  # the first code by code point, as rebuild decides later
    project_ids = {code: known_projects[code] for code in page_codes if code in known_projects}
    mous_ids = {uid: known_mouses[uid] for uid in page_uids if uid in known_mouses}
    # Ids read by joining the wanted keys (a hash or nested-loop join): ``= ANY(array)`` of a
    # page's ~1,300 codes or ~1,700 uids took 30-90 ms a statement here, the join 5-27 ms.
    with connection.cursor() as cursor:
        codes = [code for code in page_codes if code not in project_ids]
        if codes:
            cursor.execute(
                f"INSERT INTO {PROJECT} (code, title, abstract, pi_name, pi_userid, "
                "proposal_authors, science_keyword, scientific_category, is_synthetic) "
                "SELECT code, '', '', '', '', '', '', '', false FROM unnest(%s::text[]) AS code "
                "ON CONFLICT (code) DO NOTHING RETURNING code, id",
                [codes],
            )
            project_ids.update(cursor.fetchall())
            _read_missing(cursor, PROJECT, "code", codes, project_ids)
        if uids:
            cursor.execute(
                f"INSERT INTO {MOUS} (uid, project_id, data_rights, band_mask, n_observations, "
                "n_sources, target_names, antenna_array) "
                "SELECT uid, project_id, '', 0, 0, 0, '', '' "
                "FROM unnest(%s::text[], %s::bigint[]) AS u(uid, project_id) "
                "ON CONFLICT (uid) DO NOTHING RETURNING uid, id",
                [list(uids), [project_ids[code] for code in uids.values()]],
            )
            mous_ids.update(cursor.fetchall())
        _read_missing(cursor, MOUS, "uid", list(page_uids), mous_ids)
    return project_ids, mous_ids


def _read_missing(cursor, table: str, key: str, wanted: list[str], ids: dict[str, int]) -> None:
    """Add to ``ids`` the ids of the rows of ``table`` whose ``key`` is wanted and not in it."""
    missing = [value for value in wanted if value not in ids]
    if missing:
        cursor.execute(
            f"SELECT t.{key}, t.id FROM unnest(%s::text[]) AS u({key}) "
            f"JOIN {table} t ON t.{key} = u.{key}",
            [missing],
        )
        ids.update(cursor.fetchall())


def rebuild(codes: list[str] | None) -> list[int]:
    """Derive the hierarchy of the projects ``codes`` (every project when None) from their
    rows; returns the ids of the projects that have rows (their summaries are due)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for_large_statements(cursor)
        _read_rows(cursor, codes)
        _read_parts(cursor)
        project_ids = _upsert_projects(cursor)
        _upsert_groups(cursor)
        _upsert_mouses(cursor)
        _upsert_blocks(cursor)
        _link_observations(cursor)
        cursor.execute(f"DROP TABLE {PARTS}")
        cursor.execute(f"DROP TABLE {ROWS}")
        return project_ids


def refresh_summaries(project_ids: list[int] | None) -> None:
    """``ProjectSummary`` of ``project_ids`` (all when None): code and the union of the
    member OUSs' bands.

    One aggregate of the member OUSs joined to the projects, not a look-up per project: after
    a first load the member OUSs' index on their project was built again in this transaction
    (``_write``), and PostgreSQL cannot use an index built over updated rows until the
    transaction that built it ends (``pg_index.indcheckxmin``): 30,656 look-ups each read the
    83,656 member OUSs (minutes). The member OUSs of ``project_ids`` are found by a join to the
    ids, not ``= ANY``: with no index on their project (a first load builds it after the
    hierarchy), ``= ANY`` of 30,656 ids filtered each member OUS through the whole list (3 s).
    """
    where = "" if project_ids is None else "WHERE p.id = ANY(%(ids)s)"
    of = "" if project_ids is None else "WHERE m.project_id IN (SELECT unnest(%(ids)s::bigint[]))"
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
            SELECT p.id, p.code, COALESCE(b.band_mask, 0)
            FROM {PROJECT} p LEFT JOIN (
                SELECT m.project_id, bit_or(m.band_mask) AS band_mask FROM {MOUS} m {of}
                GROUP BY m.project_id
            ) b ON b.project_id = p.id
            {where}
            """,
            {"ids": project_ids},
        )
