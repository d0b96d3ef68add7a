"""Who may download what (identities, PI links, delegations, the decision log) and requests.

The rule itself lives in ``downloads/access.py`` and nowhere else; these tables are its inputs
and its audit trail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from archiveportal.jobs import Job


class AlmaIdentity(models.Model):
    """Links a portal member to their ALMA account, as ALMA shows it in ``pi_userid``/names."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alma_identity"
    )
    alma_userid = models.CharField(max_length=64, unique=True, blank=True, null=True)
    alma_name = models.CharField(
        max_length=256, blank=True, help_text="The name as ALMA writes it, e.g. 'Ueda, Junko'."
    )

    class Meta:
        verbose_name = "ALMA identity"

    def __str__(self) -> str:
        return f"{self.user} = {self.alma_userid or self.alma_name}"


class ProjectPI(models.Model):
    """An administrator's statement that a member is PI of a project the metadata does not tie
    to them (no ``pi_userid``, or an account the archive does not expose)."""

    project = models.OneToOneField(
        "queries.Project", on_delete=models.CASCADE, related_name="pi_link"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pi_of"
    )
    stated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    stated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "project PI"

    def __str__(self) -> str:
        return f"{self.user} is PI of {self.project_id}"


class Delegation(models.Model):
    """Data access granted by a PI to another member: one project, or all the PI's projects."""

    pi = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_given"
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_held"
    )
    # None means every project the PI has, now and later.
    project = models.ForeignKey(
        "queries.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="delegations",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.pi} -> {self.delegate} ({self.project_id or 'all projects'})"


class DelegationEvent(models.Model):
    """Every grant and revocation, kept after the delegation itself changes."""

    class Action(models.TextChoices):
        GRANT = "grant", "Granted"
        REVOKE = "revoke", "Revoked"

    delegation = models.ForeignKey(Delegation, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=8, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} {self.delegation_id} at {self.at:%Y-%m-%d %H:%M}"


class AccessDecision(models.Model):
    """The log of every decision ``downloads.access`` took about proprietary data."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member_ous_uid = models.CharField(max_length=64, db_index=True)
    release_date_seen = models.DateTimeField(null=True, blank=True)
    granted = models.BooleanField()
    rule = models.CharField(max_length=64)
    surface = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{'grant' if self.granted else 'deny'} {self.member_ous_uid} ({self.rule})"


class DownloadRequest(Job):
    """A member's request for files; a worker prepares it (files, script, list), then emails.

    ``phase`` is the preparation job's phase; ``submitted_at`` is None while it is a draft and
    ``expired_at`` is set once the cleaner has removed its artefacts.
    """

    task_name = "downloads.prepare_request"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="download_requests"
    )
    title = models.CharField(max_length=200, blank=True)
    member_ous_uids = models.JSONField(default=list)
    categories = models.JSONField(default=list)
    layout = models.CharField(max_length=8, default="tree")  # tree | flat
    submitted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    total_size = models.BigIntegerField(null=True, blank=True)
    file_count = models.PositiveIntegerField(null=True, blank=True)
    # Preparation progress for the request page: how many of ``member_ous_uids`` have their file
    # listing resolved. The worker writes the absolute number (never an increment), so a retried
    # attempt rewrites it instead of counting twice.
    mous_prepared = models.PositiveIntegerField(default=0)
    denied_summary = models.JSONField(default=list, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    # Generated when the request builder is rendered and posted back: a second POST of the same
    # form (a double click, a resend) finds the first request instead of making another.
    idempotency_key = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], name="unique_request_idempotency_key"
            )
        ]


class RequestFile(models.Model):
    """A file resolved into a prepared request, after the access rule allowed it."""

    request = models.ForeignKey(DownloadRequest, on_delete=models.CASCADE, related_name="files")
    member_ous_uid = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    category = models.CharField(max_length=16)
    size = models.BigIntegerField(null=True, blank=True)
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    # A portal path ("/dataPortal/<name>", made absolute with the address configured when it is
    # served) or the archive's own URL: never the portal's address frozen at preparation.
    url = models.CharField(max_length=500)
    relative_path = models.CharField(max_length=500)
    proprietary = models.BooleanField(default=False)

    class Meta:
        ordering = ["relative_path"]
        constraints = [
            models.UniqueConstraint(fields=["request", "relative_path"], name="unique_request_path")
        ]

    def __str__(self) -> str:
        return self.relative_path


class Outbox(Job):
    """An email to send after the transaction that decided it committed (the outbox pattern).

    A job row like any other: ``phase`` is its state (queued, running = being sent, done = sent,
    failed = retries spent), ``attempts`` counts sends tried, ``error_message`` keeps the last
    SMTP error. One row per (request, kind): the decision to email is taken once.
    ``downloads.notifications`` documents what a crash between sending and marking can do.
    """

    task_name = "downloads.deliver_email"

    class Kind(models.TextChoices):
        REQUEST_READY = "request-ready", "Request ready"

    request = models.ForeignKey(DownloadRequest, on_delete=models.CASCADE, related_name="outbox")
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.REQUEST_READY)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outgoing email"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "kind"], name="unique_outbox_request_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.request_id} ({self.phase})"


class BasketItem(models.Model):
    """A member OUS a member keeps for a later request, across searches (``downloads.basket``).

    Metadata only: what the basket holds says nothing about files; the request made from it
    goes through the builder and the access decider like any other.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="basket_items"
    )
    member_ous = models.ForeignKey(
        "queries.MemberOUS", on_delete=models.CASCADE, related_name="basket_items"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "member_ous"], name="unique_basket_item")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.member_ous_id}"
