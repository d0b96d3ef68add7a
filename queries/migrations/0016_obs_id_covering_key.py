"""``obs_id``'s unique key carries ``id, project_id, frequency, band_mask``, so that paging a
large result in the default order reads no table rows.

A large result (over 20,000 rows: ``queries.selectors._page_of_many``) is paged with
``ORDER BY obs_id LIMIT 50 OFFSET n``: PostgreSQL walks the ``obs_id`` index and tests the
search on each row until it has passed ``n + 50`` matches. With the key alone every row walked
was read from the 1.8 GB table: page 20 of ``frequency 230..250 GHz`` (86,168 of 1M rows, 8.6 %)
walked 12,813 rows and 5,272 table pages, 8-10 ms, as much as counting the whole result. With
the columns the large searches test in the key's ``INCLUDE`` list the walk is index-only (974
pages, ~1.5 ms on the bench mirror): frequency ranges, project-level text (the observations of
the matching projects, by ``project_id``), band lists, and ``id``, which the page's rows are
then read by.

The unique constraint itself is replaced (same name, same key, so ``ON CONFLICT (obs_id)``
and Django's ``unique=True`` are unchanged) rather than a second index added: bulk loads keep
unique keys while rows arrive (``queries.bulk_indexes``), and one wider key (101 MB against
66 MB on 1M rows) costs a load less than a second 101 MB index to build after it. The included
columns are all indexed elsewhere already, so an update changing none of them stays HOT as
before. PostgreSQL only: SQLite has no ``INCLUDE`` and keeps Django's plain key.
"""

from django.db import migrations

TABLE = "queries_observation"
KEY = "queries_observation_obs_id_key"
INCLUDED = ("id", "project_id", "frequency", "band_mask")


def _replace(schema_editor, include: tuple[str, ...]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    covering = f" INCLUDE ({', '.join(include)})" if include else ""
    with schema_editor.connection.cursor() as cursor:
        # One statement: the table is never without its key.
        cursor.execute(
            f"ALTER TABLE {TABLE} DROP CONSTRAINT {KEY}, "
            f"ADD CONSTRAINT {KEY} UNIQUE (obs_id){covering}"
        )


def covering(apps, schema_editor) -> None:
    _replace(schema_editor, INCLUDED)


def plain(apps, schema_editor) -> None:
    _replace(schema_editor, ())


class Migration(migrations.Migration):
    dependencies = [("queries", "0015_pending_indexes")]

    operations = [migrations.RunPython(covering, plain)]
