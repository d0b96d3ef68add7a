"""Request files keep the portal's path, not its address: make earlier absolute URLs relative.

A URL under the configured ``PORTAL_BASE_URL``'s ``/dataPortal/`` becomes ``/dataPortal/<name>``,
which the portal turns back into an absolute URL with the address configured when it serves it.
"""

from django.conf import settings
from django.db import migrations


def to_paths(apps, schema_editor):
    RequestFile = apps.get_model("downloads", "RequestFile")
    prefix = settings.PORTAL_BASE_URL.rstrip("/")
    for row in RequestFile.objects.filter(url__startswith=f"{prefix}/dataPortal/").iterator():
        row.url = row.url[len(prefix) :]
        row.save(update_fields=["url"])


def to_urls(apps, schema_editor):
    RequestFile = apps.get_model("downloads", "RequestFile")
    prefix = settings.PORTAL_BASE_URL.rstrip("/")
    for row in RequestFile.objects.filter(url__startswith="/dataPortal/").iterator():
        row.url = f"{prefix}{row.url}"
        row.save(update_fields=["url"])


class Migration(migrations.Migration):
    dependencies = [("downloads", "0002_outbox_and_idempotency_key")]

    operations = [migrations.RunPython(to_paths, to_urls)]
