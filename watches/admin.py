"""Watches and digests are seen, not edited, in the admin: a watch changes through its
member's page (which checks the search is still visible) and a digest is a job row."""

from django.contrib import admin

from archiveportal.readonly_admin import ReadOnlyAdmin
from watches.models import Digest, Watch


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdmin):
    list_display = ("user", "saved_search", "frequency", "to_list", "created_at")
    list_filter = ("frequency", "to_list")


@admin.register(Digest)
class DigestAdmin(ReadOnlyAdmin):
    list_display = ("recipient", "frequency", "period", "phase", "sent_at", "attempts")
    list_filter = ("phase", "frequency")
