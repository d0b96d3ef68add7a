"""``ObservedPosition`` (issue 13, target 2): the observations reduced to one row per (project,
member OUS, position, band mask, source name) with the widest footprint, which a project view of
cones and bands reads instead of the observations (``queries.positions`` says why the answer is
the same; bench/README.md has the figures). Filled here from the rows already linked to their
projects; ``queries.positions.refresh_positions`` keeps it from then on.

On PostgreSQL, ``pos_sky_zone`` is the observations' zone index (0007) for these rows: btree
(floor(s_dec * 2), s_ra), so ``filters.zones_q`` bounds a cone the same way, covering every
column the project view's statement reads (index-only).
"""

import django.db.models.deletion
from django.db import migrations, models


ZONE = "(floor(s_dec * 2::double precision))"  # queries.filters.sky_zone
INDEX = (
    f"CREATE INDEX IF NOT EXISTS pos_sky_zone ON queries_observedposition ({ZONE}, s_ra) "
    "INCLUDE (s_dec, s_x, s_y, s_z, s_fov, band_mask, project_id, member_ous_id, code, "
    "target_name)"
)
KEY = "o.target_name, o.band_mask, o.s_ra, o.s_dec, o.s_x, o.s_y, o.s_z"
FILL = (
    "INSERT INTO queries_observedposition (project_id, member_ous_id, code, target_name, "
    "band_mask, s_ra, s_dec, s_x, s_y, s_z, s_fov) "
    f"SELECT o.project_id, o.member_ous_id, p.code, {KEY}, MAX(o.s_fov) "
    "FROM queries_observation o JOIN queries_project p ON p.id = o.project_id "
    f"GROUP BY o.project_id, o.member_ous_id, p.code, {KEY}"
)  # queries.positions.refresh_positions for every project


def fill(apps, schema_editor) -> None:
    schema_editor.execute(FILL)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)
        schema_editor.execute("ANALYZE queries_observedposition")


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS pos_sky_zone")


class Migration(migrations.Migration):
    # After main's 0011 (another leaf on 0008 otherwise); renumbered at merge.
    dependencies = [("queries", "0011_count_generation")]

    operations = [
        migrations.CreateModel(
            name="ObservedPosition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.CharField(max_length=64)),
                ("target_name", models.CharField(blank=True, max_length=256)),
                ("band_mask", models.PositiveIntegerField(default=0)),
                ("s_ra", models.FloatField(blank=True, null=True)),
                ("s_dec", models.FloatField(blank=True, null=True)),
                ("s_x", models.FloatField(blank=True, null=True)),
                ("s_y", models.FloatField(blank=True, null=True)),
                ("s_z", models.FloatField(blank=True, null=True)),
                ("s_fov", models.FloatField(blank=True, null=True)),
                (
                    "member_ous",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="observed_positions",
                        to="queries.memberous",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="observed_positions",
                        to="queries.project",
                    ),
                ),
            ],
        ),
        migrations.RunPython(fill, drop_index, elidable=False),
    ]
