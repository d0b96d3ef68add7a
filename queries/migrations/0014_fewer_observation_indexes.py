"""Three fewer indexes on observations, so that a bulk load builds three fewer (each build
rescans the 1.8 GB heap of a 1M-row mirror: 0.45-0.67 s apiece, about 1.7 s of every first
load, synth_archive and harvest alike; bench/README.md). As in migration 0008, dropped because
no search uses them (the code that filters on these columns, ``EXPLAIN`` on the bench mirror):

- ``target_name_key``'s plain btree and its ``varchar_pattern_ops`` twin: the source-name
  field compares the key case-insensitively, as ``UPPER(target_name_key)``, which
  ``obs_target_key_upper`` (btree) and ``obs_target_key_trgm`` (trigram GIN) serve;
- ``proposal_id``'s plain btree: ``=`` and ``IN`` are served by ``obs_project_mous``, whose
  first column it is. Its pattern twin stays, under a name of ours (``obs_proposal_pattern``):
  a project-code pattern (``2019.1.*``) is a case-sensitive ``LIKE 'prefix%'``, which on a
  database whose collation is not "C" only a ``varchar_pattern_ops`` index serves.

On SQLite the index on ``target_name_key`` goes and ``proposal_id``'s stays (under the new
name); SQLite has no operator classes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("queries", "0013_project_text_statistics")]

    operations = [
        migrations.AddIndex(
            model_name="observation",
            index=models.Index(
                fields=["proposal_id"],
                name="obs_proposal_pattern",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
        migrations.AlterField(
            model_name="observation",
            name="proposal_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="observation",
            name="target_name_key",
            field=models.CharField(blank=True, max_length=256),
        ),
    ]
