"""Admin for identities, PI statements, delegations, the access log and requests."""

from django.contrib import admin

from downloads import models


@admin.register(models.AlmaIdentity)
class AlmaIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "alma_userid", "alma_name")
    search_fields = ("user__username", "alma_userid", "alma_name")


@admin.register(models.ProjectPI)
class ProjectPIAdmin(admin.ModelAdmin):
    list_display = ("project", "user", "stated_by", "stated_at")
    raw_id_fields = ("project",)
    readonly_fields = ("stated_by", "stated_at")

    def save_model(self, request, obj, form, change):
        obj.stated_by = request.user
        super().save_model(request, obj, form, change)


class DelegationEventInline(admin.TabularInline):
    model = models.DelegationEvent
    readonly_fields = ("action", "actor", "at", "detail")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.Delegation)
class DelegationAdmin(admin.ModelAdmin):
    """Admins manage delegations for any project; changes go through the services so that
    every grant and revocation is recorded."""

    list_display = ("pi", "delegate", "project", "expires_at", "revoked_at", "created_at")
    list_filter = ("revoked_at",)
    raw_id_fields = ("project",)
    readonly_fields = ("revoked_at", "created_at", "created_by")
    inlines = [DelegationEventInline]
    actions = ["revoke_selected"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            models.DelegationEvent.objects.create(
                delegation=obj, action="grant", actor=request.user, detail="edited by admin"
            )
            return
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        scope = obj.project.code if obj.project else "all projects of the PI"
        models.DelegationEvent.objects.create(
            delegation=obj,
            action="grant",
            actor=request.user,
            detail=f"data access to {scope} (by admin)",
        )

    @admin.action(description="Revoke selected delegations")
    def revoke_selected(self, request, queryset):
        from downloads.delegations import revoke

        for delegation in queryset:
            revoke(actor=request.user, delegation=delegation)


@admin.register(models.AccessDecision)
class AccessDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "at",
        "user",
        "member_ous_uid",
        "granted",
        "rule",
        "surface",
        "release_date_seen",
    )
    list_filter = ("granted", "rule", "surface")
    search_fields = ("member_ous_uid", "user__username")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.DownloadRequest)
class DownloadRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "phase", "file_count", "total_size", "created_at")
    list_filter = ("phase",)
    readonly_fields = [f.name for f in models.DownloadRequest._meta.fields]
