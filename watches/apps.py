from django.apps import AppConfig


class WatchesConfig(AppConfig):
    name = "watches"
    verbose_name = "Watches, digests and the release calendar"

    def ready(self) -> None:
        from harvest.signals import harvest_finished
        from watches.receivers import on_harvest_finished

        harvest_finished.connect(on_harvest_finished, dispatch_uid="watches.evaluate")
