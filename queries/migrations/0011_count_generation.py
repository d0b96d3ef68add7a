"""The mirror's change log, for remembered search counts (``queries/counts.py`` says why) and
the target lists' stamp (``targets.selectors.mirror_stamp``).

PostgreSQL only: a table ``queries_mirrorchange`` and, on each table a search may read,
statement-level triggers that append one row (the table's name) per INSERT, UPDATE, DELETE or
TRUNCATE statement (one row for a COPY of a million rows), after taking the advisory lock ``MIRROR_LOCK`` shared
until commit. Inserts and shared locks never wait on each other, so writers are not
serialised by the log; a writer waits only while a search holds the lock exclusively for the
one statement that counts. On SQLite nothing is created and counts are not remembered.
"""

from django.db import migrations

# queries.counts.MIRROR_LOCK, frozen here as a migration must be.
MIRROR_LOCK = 1_297_302_051
# The same list as queries.counts.COUNTED_TABLES, frozen here as a migration must be; a test
# holds the triggers in the database equal to that list.
TABLES = (
    "queries_project",
    "queries_projectsummary",
    "queries_sciencegoal",
    "queries_groupous",
    "queries_memberous",
    "queries_executionblock",
    "queries_archivefile",
    "queries_observation",
    "queries_spectralwindow",
    "targets_targetlist",
    "targets_targetrow",
    "targets_targetmatch",
    "targets_targetous",
    "targets_targetproject",
    "targets_targetbandcount",
)


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE TABLE queries_mirrorchange (id bigserial PRIMARY KEY, "
        "relname text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
    )
    schema_editor.execute(
        "CREATE INDEX queries_mirrorchange_relname ON queries_mirrorchange (relname, id)"
    )
    schema_editor.execute(
        "CREATE FUNCTION queries_mirror_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_advisory_xact_lock_shared({MIRROR_LOCK}); "
        "INSERT INTO queries_mirrorchange (relname) VALUES (TG_TABLE_NAME); "
        "RETURN NULL; END $$"
    )
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER mirror_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION queries_mirror_changed()"
        )
    schema_editor.execute("INSERT INTO queries_mirrorchange (relname) VALUES ('')")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS mirror_changed ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS queries_mirror_changed()")
    schema_editor.execute("DROP TABLE IF EXISTS queries_mirrorchange")


class Migration(migrations.Migration):
    dependencies = [
        ("queries", "0008_lighter_ingest_indexes"),
        ("targets", "0003_match_pairs"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
