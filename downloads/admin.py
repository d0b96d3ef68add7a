"""Admin for identities, PI statements, delegations, the access log and requests.

Staff status grants nothing: an administrator cannot grant a delegation (only the PI can), nor
make themselves a PI by linking their own account, and sees a request's size or a file's name
only where ``downloads.access`` (through ``downloads.visibility``) lets them download it. No
deletion page lists a file by name (it would list every cascaded file).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import NestedObjects, quote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import router
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from archiveportal.readonly_admin import ReadOnlyAdmin, ReadOnlyInline
from downloads import models
from downloads.delegations import revoke
from downloads.visibility import requests_with_visible_sizes
from queries.models import ArchiveFile

HIDDEN = "hidden (proprietary)"


class NoFileNamesOnDelete:
    """Deletion pages list cascaded objects by ``str()``: a file or request file would show its
    name. This lists those two by their id alone."""

    masked = (ArchiveFile, models.RequestFile)

    def get_deleted_objects(self, objs, request):
        using = router.db_for_write(self.model)
        collector = NestedObjects(using=using, origin=objs)
        collector.collect(objs)
        perms_needed = set()

        def describe(obj):
            opts = obj._meta
            label = f"#{obj.pk}" if isinstance(obj, self.masked) else str(obj)
            try:
                url = reverse(
                    f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                    None,
                    (quote(obj.pk),),
                )
            except NoReverseMatch:
                url = None
            model_admin = self.admin_site._registry.get(obj.__class__)
            if model_admin is not None and not model_admin.has_delete_permission(request, obj):
                perms_needed.add(opts.verbose_name)
            if url and not isinstance(obj, self.masked):
                return format_html(
                    '{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, label
                )
            return f"{capfirst(opts.verbose_name)}: {label}"

        to_delete = collector.nested(describe)
        protected = [describe(obj) for obj in collector.protected]
        model_count = {
            model._meta.verbose_name_plural: len(objs)
            for model, objs in collector.model_objs.items()
        }
        return to_delete, model_count, perms_needed, protected


class NotOneselfForm(forms.ModelForm):
    """An administrator cannot tie their own account to a PI: that would grant them the data."""

    admin_user = None

    def clean_user(self):
        user = self.cleaned_data["user"]
        if self.admin_user is not None and user.pk == self.admin_user.pk:
            raise forms.ValidationError(
                "You cannot link your own account: ask another administrator."
            )
        return user


class NotOneselfAdmin(admin.ModelAdmin):
    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = type(
            "BoundNotOneselfForm", (NotOneselfForm,), {"admin_user": request.user}
        )
        return super().get_form(request, obj, change, **kwargs)


@admin.register(models.AlmaIdentity)
class AlmaIdentityAdmin(NotOneselfAdmin):
    list_display = ("user", "alma_userid", "alma_name")
    search_fields = ("user__username", "alma_userid", "alma_name")


@admin.register(models.ProjectPI)
class ProjectPIAdmin(NotOneselfAdmin):
    list_display = ("project", "user", "stated_by", "stated_at")
    raw_id_fields = ("project",)
    readonly_fields = ("stated_by", "stated_at")

    def save_model(self, request, obj, form, change):
        obj.stated_by = request.user
        super().save_model(request, obj, form, change)


class DelegationEventInline(ReadOnlyInline):
    model = models.DelegationEvent
    readonly_fields = ("action", "actor", "at", "detail")


@admin.register(models.Delegation)
class DelegationAdmin(ReadOnlyAdmin):
    """Read-only, except for revoking: only a PI grants (from /access/), so an administrator
    cannot give anyone, themselves included, a PI's data. A revocation goes through the service,
    which records it and emails the PI."""

    list_display = ("pi", "delegate", "project", "expires_at", "revoked_at", "created_at")
    list_filter = ("revoked_at",)
    fields = ("pi", "delegate", "project", "expires_at", "revoked_at", "created_at", "created_by")
    readonly_fields = fields
    inlines = [DelegationEventInline]
    actions = ["revoke_selected"]

    def has_revoke_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(description="Revoke selected delegations", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        for delegation in queryset:
            revoke(actor=request.user, delegation=delegation)
        self.message_user(request, "Revoked; each PI has been told by email.")


@admin.register(models.AccessDecision)
class AccessDecisionAdmin(ReadOnlyAdmin):
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


@admin.register(models.DownloadRequest)
class DownloadRequestAdmin(NoFileNamesOnDelete, admin.ModelAdmin):
    """A request's total size sums its files: shown only if this admin may download them all."""

    list_display = ("id", "owner", "phase", "file_count", "size", "created_at")
    list_filter = ("phase",)
    readonly_fields = [
        *(f.name for f in models.DownloadRequest._meta.fields if f.name != "total_size"),
        "size",
    ]
    exclude = ("total_size",)

    def has_add_permission(self, request):
        return False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        sized = requests_with_visible_sizes(request.user, rows, surface="admin")
        for row in rows:
            row.admin_may_see_size = row.pk in sized
        changelist.result_list = rows
        return changelist

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        if found is not None:
            found.admin_may_see_size = found.pk in requests_with_visible_sizes(
                request.user, [found], surface="admin"
            )
        return found

    @admin.display(description="total size")
    def size(self, obj):
        return obj.total_size if getattr(obj, "admin_may_see_size", False) else HIDDEN


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(NoFileNamesOnDelete, UserAdmin):
    """Django's user admin, whose deletion page would list a member's request files by name."""
