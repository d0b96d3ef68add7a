"""The projects' trigram indexes (title, abstract, PI name) back to the default statistics
target, undoing migration 0013.

0013 raised the target to 1,000 so that the planner's estimate of a text search's matching
projects (and so of their observations) came close enough for
``queries.selectors.observations_page`` to pick the right plan. A text search is now compiled
with its matching projects' ids (``queries.search_where``, also for the querysets the pages
build when no WHERE is kept), so the observations are estimated from ``project_id``'s own
statistics and the text pattern's estimate only chooses how the projects themselves are
matched (the trigram index or, for a word in most abstracts, a scan). What the finer target
still cost was planning: each text pattern was tested against 1,000 most common values and
1,000 histogram entries of whole abstracts, 1.34 ms a plan against 0.32 ms with the default
(the abstract search on the 1M-row bench mirror, median of 30).

``queries.bulk_indexes`` keeps whatever target is set when a bulk load rebuilds the indexes.
PostgreSQL only; an index that is missing (no pg_trgm) is skipped.
"""

from django.db import migrations

INDEXES = ("project_title_trgm", "project_abstract_trgm", "project_pi_name_trgm")


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


def default(apps, schema_editor) -> None:
    _set(schema_editor, -1)


def finer(apps, schema_editor) -> None:
    _set(schema_editor, 1000)  # migration 0013's


class Migration(migrations.Migration):
    dependencies = [("queries", "0016_obs_id_covering_key")]

    operations = [migrations.RunPython(default, finer)]
