"""Fewer indexes on observations, so that a bulk load (harvest, ``load_archive``,
``synth_archive``) builds fewer: each btree build rescans the 1.8 GB heap of a 1M-row mirror,
and rebuilding the 26 secondary indexes took about 50 s, the whole budget of a 20,000 rows/s
load (bench/README.md). Dropped, because no search uses them (``bench_mirror.py --explain``,
``idx_scan`` 0 after the benchmarks, and the code that filters on these columns):

- ``obs_title_trgm`` (trigram GIN, 11-12 s of the 50): a project-title search goes through the
  per-project table and its own trigram index (``queries.kinds.PROJECT_COPIES``);
- the ``varchar_pattern_ops`` twins Django adds to indexed ``CharField`` columns on PostgreSQL,
  for ``obs_id``, ``group_ous_uid``, ``member_ous_uid`` and ``asdm_uid``: nothing searches
  these uids by prefix; their plain btrees (``=``, ``IN``, TAP) stay, now named in ``Meta``.

On SQLite only the index names change.
"""

from django.db import migrations, models

TITLE_TRGM = (
    "CREATE INDEX IF NOT EXISTS obs_title_trgm ON queries_observation "
    "USING gin ((UPPER(obs_title::text)) gin_trgm_ops)"
)


def drop_unused(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS obs_title_trgm")
    # obs_id is unique: its pattern twin comes with the constraint, so it is found by its
    # definition (Django's name carries a hash).
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'queries_observation' "
            "AND indexdef LIKE '%(obs_id varchar_pattern_ops)%'"
        )
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def restore(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is not None:
            schema_editor.execute(TITLE_TRGM)
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS queries_observation_obs_id_42ca6ae0_like "
        "ON queries_observation (obs_id varchar_pattern_ops)"
    )


class Migration(migrations.Migration):
    dependencies = [("queries", "0007_sky_zone_cover")]

    operations = [
        migrations.RunPython(drop_unused, restore, elidable=False),
        migrations.AlterField(
            model_name="observation",
            name="group_ous_uid",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="observation",
            name="member_ous_uid",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="observation",
            name="asdm_uid",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="observation",
            index=models.Index(fields=["group_ous_uid"], name="obs_group_ous_uid"),
        ),
        migrations.AddIndex(
            model_name="observation",
            index=models.Index(fields=["member_ous_uid"], name="obs_member_ous_uid"),
        ),
        migrations.AddIndex(
            model_name="observation",
            index=models.Index(fields=["asdm_uid"], name="obs_asdm_uid"),
        ),
    ]
