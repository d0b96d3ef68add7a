"""Django admin for the mirror: administrators browse what the portal knows.

Metadata is open to every member, so to the admin too; file names, sizes, checksums and URLs are
not, and staff status grants nothing: the admin shows a file's details only where
``downloads.access`` (asked through ``downloads.visibility``) lets this admin download it. Mirror
rows are loaded from the archive, not edited or deleted here, which also keeps the deletion page
(it lists every cascaded file by name) out of reach.
"""

from django.contrib import admin
from django.utils.html import format_html

from archiveportal.readonly_admin import ReadOnlyAdmin, ReadOnlyInline
from downloads.visibility import allowed_uids
from queries import models

HIDDEN = "hidden (proprietary)"


class MirrorAdmin(ReadOnlyAdmin):
    """Read-only: the loader and the harvester write the mirror."""


def _may_download(request, mous) -> bool:
    """One decision per member OUS per admin request (the admin asks more than once)."""
    cache = request.__dict__.setdefault("_admin_mous_decisions", {})
    if mous.uid not in cache:
        cache[mous.uid] = mous.uid in allowed_uids(request.user, [mous], surface="admin")
    return cache[mous.uid]


@admin.register(models.Observation)
class ObservationAdmin(MirrorAdmin):
    list_display = (
        "obs_id",
        "proposal_id",
        "target_name",
        "band_list",
        "frequency",
        "obs_release_date",
        "data_rights",
    )
    list_filter = ("data_rights", "band_list", "science_observation", "is_mosaic")
    search_fields = ("obs_id", "proposal_id", "target_name", "member_ous_uid", "pi_name")
    raw_id_fields = ("project", "member_ous")
    show_full_result_count = False


class MemberOUSInline(ReadOnlyInline):
    model = models.MemberOUS
    fields = ("uid", "release_date", "data_rights", "n_observations", "antenna_array")
    show_change_link = True


@admin.register(models.Project)
class ProjectAdmin(MirrorAdmin):
    list_display = ("code", "title", "pi_name", "pi_userid", "is_synthetic")
    list_filter = ("is_synthetic",)
    # Title and PI through their stored upper-case copies, which the trigram indexes are on
    # (``queries.upper_text``): the same projects as ``title``/``pi_name``, found by index.
    search_fields = ("code", "title_upper", "pi_name_upper", "pi_userid")
    inlines = [MemberOUSInline]


class ArchiveFileInline(ReadOnlyInline):
    """Shown only on a member OUS this admin may download (``MemberOUSAdmin.get_inlines``)."""

    model = models.ArchiveFile
    fields = ("name", "category", "size", "checksum_sha256")


@admin.register(models.MemberOUS)
class MemberOUSAdmin(MirrorAdmin):
    list_display = ("uid", "project", "release_date", "data_rights", "antenna_array")
    list_filter = ("data_rights", "antenna_array")
    search_fields = ("uid", "project__code")
    raw_id_fields = ("project", "group_ous")

    def get_inlines(self, request, obj):
        if obj is not None and _may_download(request, obj):
            return [ArchiveFileInline]
        return []

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "files"]

    @admin.display(description="Files")
    def files(self, obj):
        count = obj.files.count()
        return (
            f"{count} file{'s' if count != 1 else ''} (listed below only if you may download them)"
        )


@admin.register(models.GroupOUS)
class GroupOUSAdmin(MirrorAdmin):
    list_display = ("uid", "project", "science_goal")
    search_fields = ("uid", "project__code")
    raw_id_fields = ("project", "science_goal")


@admin.register(models.ScienceGoal)
class ScienceGoalAdmin(MirrorAdmin):
    list_display = ("uid", "name", "project")
    search_fields = ("uid", "project__code")


@admin.register(models.ArchiveFile)
class ArchiveFileAdmin(MirrorAdmin):
    """Lists every file's member OUS and category; its name, size, checksum and URL only where
    this admin may download it. A denied file's page does not exist for this admin."""

    list_display = ("file_name", "category", "file_size", "member_ous", "is_synthetic")
    list_display_links = None
    list_filter = ("category", "is_synthetic")
    # Searching by name would tell which proprietary names exist.
    search_fields = ("member_ous__uid",)
    raw_id_fields = ("member_ous", "execution_block")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member_ous__project")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        allowed = allowed_uids(request.user, {r.member_ous for r in rows}, surface="admin")
        for row in rows:
            row.admin_may_download = row.member_ous.uid in allowed
        changelist.result_list = rows
        return changelist

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        if found is None or not _may_download(request, found.member_ous):
            return None
        return found

    @admin.display(description="name")
    def file_name(self, obj):
        if not getattr(obj, "admin_may_download", False):
            return HIDDEN
        url = f"{obj.pk}/change/"
        return format_html('<a href="{}">{}</a>', url, obj.name)

    @admin.display(description="size")
    def file_size(self, obj):
        return obj.size if getattr(obj, "admin_may_download", False) else HIDDEN


@admin.register(models.SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "visibility", "updated_at")
    list_filter = ("visibility",)


@admin.register(models.Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "phase", "result_count", "created_at")
    list_filter = ("phase",)
    readonly_fields = ("id", "created_at", "updated_at")
