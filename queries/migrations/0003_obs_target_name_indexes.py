"""PostgreSQL-only indexes on ``target_name`` for the TAP service (``vo/``), measured in
``bench/bench_tap.py``.

astroquery's ``source_name_alma`` payload and TOPCAT users write ``target_name = 'M83'`` or
``target_name LIKE 'NGC%'`` on ``ivoa.obscore``, which is this table's ``target_name`` as ALMA
stored it (the search page goes through ``target_name_key`` instead, indexed in 0002). A btree
with ``varchar_pattern_ops`` serves equality and prefix ``LIKE`` whatever the database's
collation; a trigram GIN serves ``LIKE``/``ILIKE`` with a leading wildcard. Nothing here changes
an answer; on SQLite this migration does nothing, and without pg_trgm the trigram index is
skipped, not the migration.
"""

from django.db import migrations

PATTERN = "obs_target_name_pattern"
TRIGRAM = "obs_target_name_trgm"


def create_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {PATTERN} ON queries_observation "
        "(target_name varchar_pattern_ops)"
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM} ON queries_observation "
        "USING gin (target_name gin_trgm_ops)"
    )


def drop_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in (PATTERN, TRIGRAM):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("queries", "0002_postgres_search_indexes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
