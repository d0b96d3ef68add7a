"""Download requests: create, prepare (in a worker), render, expire.

Preparation resolves the files of each member OUS (the mirror's catalogue, or the archive's
DataLink when the mirror has none), asks ``downloads.access`` once for all of them, stores the
allowed files as ``RequestFile`` rows and the denied parts as "proprietary until" notes without
names or sizes, then publishes the result and records the one email in an outbox row in the
same transaction that marks the request ready: a second run finds it done and does nothing. The
email itself is sent after that commit by its own task (``downloads.notifications``), never
while the row lock is held. The script and file list are rendered on demand from the stored
rows, re-checking access at that moment.

Submission is idempotent per form: the request builder carries a key generated when it was
rendered, and a second POST with the same key returns the first request (a unique constraint
settles two POSTs that race). A request expires at ``expires_at`` exactly (``status`` reads the
portal clock); the hourly cleaner only deletes the expired rows' files later.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from archiveportal import clock, jobs
from downloads import access, serving
from downloads.models import DownloadRequest, RequestFile
from downloads.notifications import queue_ready_email
from downloads.script import ScriptFile
from queries.archive.client import get_client
from queries.archive.datalink_loader import file_name, store_file
from queries.delivery import member_directory
from queries.models import ArchiveFile, FileCategory, MemberOUS

log = logging.getLogger(__name__)
VALID_CATEGORIES = {c.value for c in FileCategory}


PORTAL_FILES_PATH = "/dataPortal/"


def portal_file_path(name: str) -> str:
    """Where the portal serves a lab-cache file, without scheme or host: rows store this."""
    return f"{PORTAL_FILES_PATH}{name}"


def absolute_url(stored: str) -> str:
    """A stored URL as served now: portal paths follow the configured address of this moment
    (``PORTAL_BASE_URL``), so a portal moved to another host or port keeps working scripts."""
    if stored.startswith("/"):
        return f"{settings.PORTAL_BASE_URL.rstrip('/')}{stored}"
    return stored


def file_url(file: ArchiveFile) -> str:
    """The lab cache when it holds the file (inside it: see ``serving.lab_file``), else the
    archive's own URL."""
    return absolute_url(stored_file_url(file))


def stored_file_url(file: ArchiveFile) -> str:
    """What a ``RequestFile`` keeps: a portal path (made absolute when served), or the
    archive's own URL."""
    return portal_file_path(file.name) if serving.lab_file(file.name) else file.access_url


def parse_idempotency_key(value: str | None) -> uuid.UUID | None:
    """The form's ``idempotency_key``: empty means none; anything else must be a UUID."""
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError(
            "idempotency_key: not a key this portal generated; reload the request form."
        ) from None


def submit_request(
    *,
    owner,
    mous_uids: list[str],
    categories: list[str],
    layout: str = "tree",
    title: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> DownloadRequest:
    """Create and dispatch a request, or return the one this form already created."""
    if idempotency_key is not None:
        existing = DownloadRequest.objects.filter(
            owner=owner, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    categories = [c for c in categories if c in VALID_CATEGORIES]
    uids = sorted(set(MemberOUS.objects.filter(uid__in=mous_uids).values_list("uid", flat=True)))
    if not uids:
        raise ValueError("Tick at least one member OUS or project to download.")
    if not categories:
        raise ValueError("Tick at least one file class (product, auxiliary, raw, README...).")
    try:
        with transaction.atomic():
            request = DownloadRequest.objects.create(
                owner=owner,
                member_ous_uids=uids,
                categories=categories,
                layout=layout if layout in ("tree", "flat") else "tree",
                title=title[:200],
                submitted_at=timezone.now(),
                idempotency_key=idempotency_key,
            )
            jobs.dispatch(request)
    except IntegrityError:
        # A concurrent POST of the same form won the race: its request is the answer.
        if idempotency_key is None:
            raise
        return DownloadRequest.objects.get(owner=owner, idempotency_key=idempotency_key)
    return request


def _record_progress(request: DownloadRequest, prepared: int) -> None:
    """Write how many member OUSs have their listing resolved: an absolute number, so a retry
    rewrites it rather than adding to it. Read by the request page while it polls."""
    DownloadRequest.objects.filter(pk=request.pk).update(mous_prepared=prepared)


def _ensure_catalogue(mouses: list[MemberOUS], request: DownloadRequest) -> None:
    """Fetch DataLink listings for member OUSs the mirror has no files for (the slow part of a
    preparation), recording progress after each one."""
    catalogued = set(
        ArchiveFile.objects.filter(member_ous__in=mouses)
        .order_by()
        .values_list("member_ous_id", flat=True)
        .distinct()
    )
    missing = [m for m in mouses if m.pk not in catalogued]
    _record_progress(request, len(mouses) - len(missing))
    if not missing:
        return
    client = get_client()
    for done, mous in enumerate(missing, start=1):
        for entry in client.datalink(mous.uid):
            if entry.access_url and not entry.service_def and not entry.error_message:
                store_file(
                    mous.uid,
                    name=file_name(entry.access_url),
                    access_url=entry.access_url,
                    size=entry.content_length,
                    semantics=entry.semantics,
                    content_type=entry.content_type,
                )
        _record_progress(request, len(mouses) - len(missing) + done)


def prepare_request(request_id: str) -> None:
    request = jobs.claim(DownloadRequest, request_id)
    if request is None:
        return
    try:
        _prepare(request)
    except Exception:
        jobs.release(request)
        raise


def _prepare(request: DownloadRequest) -> None:
    mouses = list(
        MemberOUS.objects.filter(uid__in=request.member_ous_uids)
        .select_related("project", "group_ous__science_goal")
        .order_by("uid")
    )
    _ensure_catalogue(mouses, request)
    decisions = access.decide_many(request.owner, mouses, surface="request-prepare")
    # One query for the files of every allowed member OUS, whatever their number.
    files: dict[int, list[ArchiveFile]] = {}
    for f in ArchiveFile.objects.filter(
        member_ous_id__in=[m.pk for m in mouses if decisions[m.uid].allowed],
        category__in=request.categories,
    ).order_by("member_ous_id", "name"):
        files.setdefault(f.member_ous_id, []).append(f)
    rows: list[RequestFile] = []
    denied = []
    for mous in mouses:
        decision = decisions[mous.uid]
        if not decision.allowed:
            denied.append({"member_ous_uid": mous.uid, "message": decision.message})
            continue
        directory = member_directory(mous)
        for f in files.get(mous.pk, []):
            path = f.name if request.layout == "flat" else f"{directory}/{f.name}"
            rows.append(
                RequestFile(
                    member_ous_uid=mous.uid,
                    name=f.name,
                    category=f.category,
                    size=f.size,
                    checksum_sha256=f.checksum_sha256,
                    url=stored_file_url(f),
                    relative_path=path,
                    proprietary=decision.rule in ("pi", "delegate"),
                )
            )

    def publish(current: DownloadRequest) -> None:
        current.files.all().delete()
        for row in rows:
            row.request = current
        RequestFile.objects.bulk_create(rows)
        current.file_count = len(rows)
        current.mous_prepared = len(current.member_ous_uids)
        current.total_size = sum(r.size or 0 for r in rows)
        current.denied_summary = denied
        current.expires_at = clock.now() + timedelta(hours=settings.DOWNLOADS_REQUEST_TTL_HOURS)
        # Recorded in this transaction, sent after it commits (never under the row lock).
        queue_ready_email(current)

    jobs.finish(request, publish=publish)


def is_expired(request: DownloadRequest, *, now=None) -> bool:
    """Expired from the instant ``expires_at`` passes, whether or not the cleaner has run."""
    if request.expired_at:
        return True
    return request.expires_at is not None and request.expires_at <= (now or clock.now())


def status(request: DownloadRequest) -> str:
    if is_expired(request):
        return "expired"
    if request.submitted_at is None:
        return "draft"
    return {"queued": "queued", "running": "preparing", "done": "ready", "failed": "failed"}[
        request.phase
    ]


def current_files(request: DownloadRequest, user) -> tuple[list[ScriptFile], list[str]]:
    """The request's files as this user may fetch them now (access re-checked), and notes."""
    mouses = list(
        MemberOUS.objects.filter(uid__in=request.member_ous_uids).select_related("project")
    )
    decisions = access.decide_many(user, mouses, surface="script")
    files = [
        ScriptFile(
            url=absolute_url(r.url),
            relative_path=r.relative_path,
            size=r.size,
            sha256=r.checksum_sha256 or None,
            proprietary=r.proprietary,
            needs_token=r.url.startswith(PORTAL_FILES_PATH),
            alma_login=r.proprietary and not r.url.startswith(PORTAL_FILES_PATH),
        )
        for r in request.files.all()
        if decisions.get(r.member_ous_uid) and decisions[r.member_ous_uid].allowed
    ]
    notes = [f"{uid}: {d.message}" for uid, d in decisions.items() if not d.allowed]
    return files, notes


def expire_requests(*, now=None) -> int:
    """Delete the file rows of requests past their expiry (they already answer 410)."""
    now = now or clock.now()
    expired = 0
    for request in DownloadRequest.objects.filter(expires_at__lte=now, expired_at__isnull=True):
        with transaction.atomic():
            request.files.all().delete()
            request.expired_at = now
            request.save(update_fields=["expired_at", "updated_at"])
        expired += 1
    return expired
