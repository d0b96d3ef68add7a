"""PostgreSQL-only indexes for the searches, chosen by measurement (bench/README.md).

Nothing here changes what a query returns, only how fast PostgreSQL finds it; on SQLite (and
any other database) this migration does nothing and the same ORM filters answer correctly.
No extension beyond pg_trgm (in postgresql-contrib, a trusted extension) is used; when pg_trgm is
not available the trigram indexes are skipped, not the migration.

- ``obs_sky_cover``: btree (s_dec, s_ra) INCLUDE the cone columns. The cone filter
  (s_dec BETWEEN prefilter, unit-vector dot product, band bit test) is evaluated inside the index,
  so the exact count of a cone search is an index-only scan that never visits the heap rows
  of the declination strip; member_ous_id and project_id are included so that project mode
  (member OUSs and projects the cone matched) is index-only too, and id and obs_id so that a
  page can be chosen from the index (ids and sort keys of every match, then 50 rows by id)
  instead of walking the obs_id index with a filter, which takes over a second on 1M rows
  when the cone is empty.
- ``obs_sky_zone``: btree (floor(s_dec * 2), s_ra), marked as the table's CLUSTER index, so
  ``CLUSTER queries_observation`` (run after a bulk load; the bench does) stores rows of one
  half-degree zone in RA order: neighbours on the sky are neighbours on disk.
- trigram GIN indexes for substring searches (``icontains``, i.e. UPPER(col) LIKE '%...%'):
  project title, abstract and PI name (the per-project table the text search goes through), and
  on observations the source name key and ``obs_title`` for searches that filter the ObsCore
  row directly. ``obs_target_key_upper`` (btree) serves the exact source-name match
  (``target_name_key__iexact``).
"""

from django.db import migrations

CLUSTER_INDEX = "obs_sky_zone"

BTREE = [
    (
        "obs_sky_cover",
        "CREATE INDEX IF NOT EXISTS obs_sky_cover ON queries_observation (s_dec, s_ra) "
        "INCLUDE (s_x, s_y, s_z, s_fov, band_mask, member_ous_id, project_id, id, obs_id)",
    ),
    (
        "obs_target_key_upper",
        "CREATE INDEX IF NOT EXISTS obs_target_key_upper ON queries_observation "
        "((UPPER(target_name_key::text)))",
    ),
    (
        CLUSTER_INDEX,
        f"CREATE INDEX IF NOT EXISTS {CLUSTER_INDEX} ON queries_observation "
        "((floor(s_dec * 2)), s_ra)",
    ),
]
# Django's ``icontains``/``istartswith``/``iexact`` on PostgreSQL compare ``UPPER(col::text)``:
# the indexes must be on that expression or the planner cannot use them (queries/filters.py
# uses the case-insensitive lookups, on ``target_name_key`` too).
TRIGRAM = [
    ("project_title_trgm", "queries_project", "UPPER(title::text)"),
    ("project_abstract_trgm", "queries_project", "UPPER(abstract::text)"),
    ("project_pi_name_trgm", "queries_project", "UPPER(pi_name::text)"),
    ("obs_target_key_trgm", "queries_observation", "UPPER(target_name_key::text)"),
    ("obs_title_trgm", "queries_observation", "UPPER(obs_title::text)"),
]


def _is_postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def _trigram_available(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        return cursor.fetchone() is not None


def create_indexes(apps, schema_editor) -> None:
    if not _is_postgres(schema_editor):
        return
    for _name, sql in BTREE:
        schema_editor.execute(sql)
    schema_editor.execute(f"ALTER TABLE queries_observation CLUSTER ON {CLUSTER_INDEX}")
    if not _trigram_available(schema_editor):
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in TRIGRAM:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor) -> None:
    if not _is_postgres(schema_editor):
        return
    schema_editor.execute("ALTER TABLE queries_observation SET WITHOUT CLUSTER")
    for name in [n for n, _ in BTREE] + [n for n, _, _ in TRIGRAM]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("queries", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
