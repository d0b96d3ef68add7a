"""Per-project aggregates and covering indexes for the search pages (issue 13, measured in
``bench/bench_search_views.py``; bench/README.md has the figures).

- ``ProjectSummary``: one narrow row per project (code, union of its member OUSs' bands),
  filled here from the member OUSs already loaded, then kept by
  ``queries.hierarchy.refresh_summaries`` (load, harvest, ``synth_archive``).
- ``obs_band_sky_cover`` (PostgreSQL): btree (band_mask, s_dec, s_ra) INCLUDE the cone columns.
  A cone with a band (``queries.filters.bands_q`` names the band's masks as a list) reads only
  that band's entries of the declination strip: a quarter of them for band 6.
- ``obs_sky_cover`` gains ``frequency`` in its INCLUDE list, as does the band index: sorting a
  cone's matches by frequency then reads no table rows (the page is cut from the index).
- ``obs_target_key_upper`` INCLUDEs (target_name_key, id, obs_id): a source-name search's
  matches and their page come from the index alone (PostgreSQL can answer an expression index
  index-only when the expression's column is stored in it).

- The single-column indexes on ``s_dec`` and ``band_mask`` (0001) go: the covering indexes lead
  with those columns, and the band index drew the planner into bitmap ANDs of 270k rows.

Nothing here changes what a query returns; on SQLite the index step does nothing.
"""

import django.db.models.deletion
from django.db import migrations, models

COVER = "s_x, s_y, s_z, s_fov, band_mask, member_ous_id, project_id, id, obs_id"
INDEXES = [
    (
        "obs_band_sky_cover",
        "CREATE INDEX IF NOT EXISTS obs_band_sky_cover ON queries_observation "
        "(band_mask, s_dec, s_ra) "
        "INCLUDE (s_x, s_y, s_z, s_fov, member_ous_id, project_id, id, obs_id, frequency)",
        None,
    ),
    (
        "obs_sky_cover",
        "CREATE INDEX IF NOT EXISTS obs_sky_cover ON queries_observation (s_dec, s_ra) "
        f"INCLUDE ({COVER}, frequency)",
        # 0002's definition, for the way back.
        f"CREATE INDEX IF NOT EXISTS obs_sky_cover ON queries_observation (s_dec, s_ra) "
        f"INCLUDE ({COVER})",
    ),
    (
        "obs_target_key_upper",
        "CREATE INDEX IF NOT EXISTS obs_target_key_upper ON queries_observation "
        "((UPPER(target_name_key::text))) INCLUDE (target_name_key, id, obs_id)",
        "CREATE INDEX IF NOT EXISTS obs_target_key_upper ON queries_observation "
        "((UPPER(target_name_key::text)))",
    ),
]


def create_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, sql, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, previous in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        if previous:
            schema_editor.execute(previous)


def fill_summaries(apps, schema_editor) -> None:
    """The same aggregate as ``queries.hierarchy.refresh_summaries``, on the historical models."""
    MemberOUS = apps.get_model("queries", "MemberOUS")
    Project = apps.get_model("queries", "Project")
    ProjectSummary = apps.get_model("queries", "ProjectSummary")
    masks: dict[int, int] = {}
    for project_id, mask in MemberOUS.objects.values_list("project_id", "band_mask").iterator(
        10_000
    ):
        masks[project_id] = masks.get(project_id, 0) | (mask or 0)
    ProjectSummary.objects.bulk_create(
        (
            ProjectSummary(project_id=pk, code=code, band_mask=masks.get(pk, 0))
            for pk, code in Project.objects.values_list("pk", "code").iterator(10_000)
        ),
        batch_size=5000,
    )


class Migration(migrations.Migration):
    dependencies = [("queries", "0003_obs_target_name_indexes")]

    operations = [
        migrations.CreateModel(
            name="ProjectSummary",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="summary",
                        serialize=False,
                        to="queries.project",
                    ),
                ),
                ("code", models.CharField(max_length=64, unique=True)),
                ("band_mask", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(fill_summaries, migrations.RunPython.noop, elidable=False),
        # Redundant single-column indexes: the covering indexes below lead with these columns,
        # and the plain band index drew the planner into bitmap ANDs of a quarter of the table.
        migrations.AlterField(
            model_name="observation",
            name="band_mask",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="observation",
            name="s_dec",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
