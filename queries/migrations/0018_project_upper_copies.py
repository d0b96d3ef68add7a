"""Stored upper-case copies of the project title, abstract and PI name, and the trigram indexes
on them instead of on ``UPPER(column)`` (``queries.upper_text`` says why: a text search's
recheck no longer upper-cases each candidate's text, 4.4 ms of the abstract search on the 1M-row
bench mirror).

Cost: each added column rewrites ``queries_project`` (one row per project: 30,656 rows, 42 MB
with its indexes on the 1M-row bench mirror, ~1 s each); the old expression indexes are
dropped first, so the rewrites do not rebuild them, and the new ones are built once at the end
(the abstracts' GIN 5.7 s, title's and PI's 1 s) under the old names, which
``queries.bulk_indexes`` and migration 0017 know: ~11 s in all on that mirror, the project
table locked for writes and searches meanwhile. PostgreSQL builds the indexes (when pg_trgm is
there, as migration 0002 does); SQLite only gets the columns (Django rebuilds its table to add
them).
"""

from django.db import migrations

import queries.upper_text

# (index, column of the copy, expression the index was on before)
INDEXES = (
    ("project_title_trgm", "title_upper", "UPPER(title::text)"),
    ("project_abstract_trgm", "abstract_upper", "UPPER(abstract::text)"),
    ("project_pi_name_trgm", "pi_name_upper", "UPPER(pi_name::text)"),
)


def _trigram(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def _drop(schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name, _, _ in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def _build(schema_editor, on: int) -> None:
    """The indexes over column ``on`` of ``INDEXES`` (1: the copies, 2: the expressions)."""
    if not _trigram(schema_editor):
        return
    for index in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index[0]} ON queries_project "
            f"USING gin (({index[on]}) gin_trgm_ops)"
        )
    schema_editor.execute("ANALYZE queries_project")


def drop_indexes(apps, schema_editor) -> None:
    _drop(schema_editor)


def on_copies(apps, schema_editor) -> None:
    _build(schema_editor, 1)


def on_expressions(apps, schema_editor) -> None:
    _build(schema_editor, 2)


class Migration(migrations.Migration):
    dependencies = [("queries", "0017_project_text_default_statistics")]

    operations = [
        migrations.RunPython(drop_indexes, on_expressions),
        migrations.AddField(
            model_name="project",
            name="title_upper",
            field=queries.upper_text.UpperCopy("title"),
        ),
        migrations.AddField(
            model_name="project",
            name="abstract_upper",
            field=queries.upper_text.UpperCopy("abstract"),
        ),
        migrations.AddField(
            model_name="project",
            name="pi_name_upper",
            field=queries.upper_text.UpperCopy("pi_name"),
        ),
        migrations.RunPython(on_copies, drop_indexes),
    ]
