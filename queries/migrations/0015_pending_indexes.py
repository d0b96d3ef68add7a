"""``PendingIndexes``: what a first load committed its rows without, until it is built
(``queries.pending_indexes``)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('queries', '0014_fewer_observation_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='PendingIndexes',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('label', models.CharField(max_length=64)),
                ('definitions', models.JSONField()),
                ('undo', models.CharField(blank=True, default='', max_length=16)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
