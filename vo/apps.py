"""The portal as an IVOA node: TAP (ADQL over the mirror), DataLink and SIA for VO clients."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created

from vo import sqlite_functions


class VoConfig(AppConfig):
    name = "vo"
    verbose_name = "Virtual Observatory services"

    def ready(self) -> None:
        connection_created.connect(sqlite_functions.register)
