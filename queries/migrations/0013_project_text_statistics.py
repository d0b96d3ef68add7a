"""Finer planner statistics for the projects' trigram indexes (title, abstract, PI name).

A text search (``%protostellar outflows%``) asks the planner how many rows match, and
``queries.selectors.observations_page`` picks its plan by that estimate: one statement when it
expects at most 20,000 matching observations, the count first above. With the default
statistics target (100) the estimate for that two-word phrase on a million-row mirror came out
at 396 projects where 1,104 match, so the abstract search ran the wrong plan first and its SQL
went from ~15 ms to ~110 ms. With the index columns' target at 1,000 the estimate is 1,128.
Projects are few (one per ~30 observations), so ANALYZE stays cheap; the observations'
indexes keep the default.

``queries.bulk_indexes`` keeps the target when a bulk load drops and rebuilds these indexes.
PostgreSQL only; an index that is missing (no pg_trgm) is skipped.
"""

from django.db import migrations

INDEXES = ("project_title_trgm", "project_abstract_trgm", "project_pi_name_trgm")
TARGET = 1000


def _set(schema_editor, target: int) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS {int(target)}")
        cursor.execute("ANALYZE queries_project")


def finer(apps, schema_editor) -> None:
    _set(schema_editor, TARGET)


def default(apps, schema_editor) -> None:
    _set(schema_editor, -1)


class Migration(migrations.Migration):
    dependencies = [("queries", "0012_observed_positions")]

    operations = [migrations.RunPython(finer, default)]
