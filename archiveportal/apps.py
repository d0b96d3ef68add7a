"""The project package is also an app so that it can own the shared job tasks and commands."""

import os

from django.apps import AppConfig
from django.conf import settings

from archiveportal import logfilters


class ArchivePortalConfig(AppConfig):
    name = "archiveportal"
    verbose_name = "Archive Portal"

    def ready(self) -> None:
        # Proprietary file names out of every log handler, including libraries' own.
        logfilters.install()
        # whitenoise warns about a missing STATIC_ROOT; embedded mode serves from finders.
        os.makedirs(settings.STATIC_ROOT, exist_ok=True)
        # kombu's filesystem transport needs its folders before the first message.
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                os.makedirs(folder, exist_ok=True)
