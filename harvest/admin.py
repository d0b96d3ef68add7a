"""The harvest runs and their changes, read-only: only the harvester writes them."""

from django.contrib import admin

from archiveportal.readonly_admin import ReadOnlyAdmin
from harvest.models import HarvestRun, ObservationChange


@admin.register(HarvestRun)
class HarvestRunAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "archive_url",
        "mode",
        "dry_run",
        "phase",
        "rows_seen",
        "new_count",
        "changed_count",
        "released_count",
        "removed_count",
        "rows_rejected",
        "finished_at",
    )
    list_filter = ("phase", "mode", "dry_run")
    readonly_fields = [f.name for f in HarvestRun._meta.concrete_fields]


@admin.register(ObservationChange)
class ObservationChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "obs_id",
        "member_ous_uid",
        "proposal_id",
        "old_release_date",
        "new_release_date",
        "run",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("obs_id", "member_ous_uid", "proposal_id")
