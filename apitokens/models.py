"""Personal API tokens, stored only as a SHA-256 digest.

The key itself is shown once, to its owner, when it is issued; the database keeps its digest (a
fast hash is right for a 256-bit random key: there is nothing to brute-force) and a few leading
characters so the owner can recognise it. Neither lets anyone, staff included, act as the owner.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Scope(models.TextChoices):
    READ = "read", "Read metadata (search API)"
    DOWNLOAD = "download", "Download files (scripts, file lists, DataLink, /dataPortal/)"
    DELEGATIONS = "delegations", "Manage delegations (delegation API)"


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    # The key's first characters (the "apk_" marker and 6 random ones): the owner's reminder.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token {self.pk} of {self.user} ({', '.join(self.scopes)})"
