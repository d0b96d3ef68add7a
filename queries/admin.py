"""Django admin for the mirror: administrators browse what the portal knows."""

from django.contrib import admin

from queries import models


@admin.register(models.Observation)
class ObservationAdmin(admin.ModelAdmin):
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


class MemberOUSInline(admin.TabularInline):
    model = models.MemberOUS
    fields = ("uid", "release_date", "data_rights", "n_observations", "antenna_array")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "pi_name", "pi_userid", "is_synthetic")
    list_filter = ("is_synthetic",)
    search_fields = ("code", "title", "pi_name", "pi_userid")
    inlines = [MemberOUSInline]


class ArchiveFileInline(admin.TabularInline):
    model = models.ArchiveFile
    fields = ("name", "category", "size", "checksum_sha256")
    readonly_fields = fields
    extra = 0


@admin.register(models.MemberOUS)
class MemberOUSAdmin(admin.ModelAdmin):
    list_display = ("uid", "project", "release_date", "data_rights", "antenna_array")
    list_filter = ("data_rights", "antenna_array")
    search_fields = ("uid", "project__code")
    raw_id_fields = ("project", "group_ous")
    inlines = [ArchiveFileInline]


@admin.register(models.GroupOUS)
class GroupOUSAdmin(admin.ModelAdmin):
    list_display = ("uid", "project", "science_goal")
    search_fields = ("uid", "project__code")
    raw_id_fields = ("project", "science_goal")


@admin.register(models.ScienceGoal)
class ScienceGoalAdmin(admin.ModelAdmin):
    list_display = ("uid", "name", "project")
    search_fields = ("uid", "project__code")


@admin.register(models.ArchiveFile)
class ArchiveFileAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "size", "member_ous", "is_synthetic")
    list_filter = ("category", "is_synthetic")
    search_fields = ("name", "member_ous__uid")
    raw_id_fields = ("member_ous", "execution_block")


@admin.register(models.SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "visibility", "updated_at")
    list_filter = ("visibility",)


@admin.register(models.Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "phase", "result_count", "created_at")
    list_filter = ("phase",)
    readonly_fields = ("id", "created_at", "updated_at")
