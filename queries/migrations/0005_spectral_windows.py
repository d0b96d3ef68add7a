"""Spectral windows of every observation row (the line finder, the spectral view): the table,
then the windows of the rows already in the mirror, read by the same code that load and
harvest use (``queries.spectral.rebuild_windows``, which touches only the columns this
migration and those before it define)."""

import django.db.models.deletion
from django.db import migrations, models


def fill_windows(apps, schema_editor):
    from queries.spectral import rebuild_windows

    rebuild_windows()


class Migration(migrations.Migration):

    dependencies = [
        ('queries', '0004_search_aggregates'),
    ]

    operations = [
        migrations.CreateModel(
            name='SpectralWindow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('lo_ghz', models.FloatField()),
                ('hi_ghz', models.FloatField()),
                ('channel_hz', models.FloatField(null=True)),
                ('observation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='spectral_windows', to='queries.observation')),
            ],
            options={
                'indexes': [models.Index(fields=['lo_ghz', 'hi_ghz', 'observation'], name='spw_range')],
            },
        ),
        migrations.RunPython(fill_windows, migrations.RunPython.noop, elidable=False),
    ]
