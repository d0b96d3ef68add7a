"""The sky indexes lead with declination zones, so a cone reads only its box (issue 13).

``obs_sky_zone`` (0002: btree (floor(s_dec * 2), s_ra), the table's CLUSTER index) now INCLUDEs
what ``obs_sky_cover`` does, plus ``s_dec`` itself. ``queries.filters.cone_q`` names the
half-degree zones its box touches (``zones_q``), and the btree descends once per zone and reads
only the RA window of each, index-only, where ``obs_sky_cover`` (s_dec, s_ra) reads the whole
declination strip round the sky and tests RA on every entry: Orion's 0.2 degree cone on 1M rows
read ~180k entries for ~48k in its box (bench/README.md has the figures). ``obs_sky_cover``
stays for what names a declination range without zones (ADQL ``BETWEEN`` on ``s_dec``, the
target-list join). ``obs_band_sky_cover`` (0004: band_mask, s_dec, s_ra) becomes (band_mask,
zone, s_ra) for the same reason: with it left on s_dec, the planner took the zone index for a
cone with a band and read four times the entries. Nothing here changes what a query returns;
on SQLite nothing happens.
"""

from django.db import migrations

ZONE = "(floor(s_dec * 2::double precision))"  # queries.filters.sky_zone
CLUSTER_INDEX = "obs_sky_zone"
NEW = {
    CLUSTER_INDEX: (
        f"CREATE INDEX IF NOT EXISTS obs_sky_zone ON queries_observation ({ZONE}, s_ra) "
        "INCLUDE (s_dec, s_x, s_y, s_z, s_fov, band_mask, member_ous_id, project_id, id, "
        "obs_id, frequency)"
    ),
    "obs_band_sky_cover": (
        "CREATE INDEX IF NOT EXISTS obs_band_sky_cover ON queries_observation "
        f"(band_mask, {ZONE}, s_ra) INCLUDE (s_dec, s_x, s_y, s_z, s_fov, member_ous_id, "
        "project_id, id, obs_id, frequency)"
    ),
}
OLD = {  # 0002's and 0004's definitions, for the way back
    CLUSTER_INDEX: (
        f"CREATE INDEX IF NOT EXISTS obs_sky_zone ON queries_observation ({ZONE}, s_ra)"
    ),
    "obs_band_sky_cover": (
        "CREATE INDEX IF NOT EXISTS obs_band_sky_cover ON queries_observation "
        "(band_mask, s_dec, s_ra) "
        "INCLUDE (s_x, s_y, s_z, s_fov, member_ous_id, project_id, id, obs_id, frequency)"
    ),
}


def _replace(schema_editor, definitions: dict[str, str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in definitions.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(definition)
    schema_editor.execute(f"ALTER TABLE queries_observation CLUSTER ON {CLUSTER_INDEX}")
    schema_editor.execute("ANALYZE queries_observation")  # the zone expression's statistics


def cover(apps, schema_editor) -> None:
    _replace(schema_editor, NEW)


def uncover(apps, schema_editor) -> None:
    _replace(schema_editor, OLD)


class Migration(migrations.Migration):
    dependencies = [("queries", "0006_display_choices")]

    operations = [migrations.RunPython(cover, uncover, elidable=False)]
