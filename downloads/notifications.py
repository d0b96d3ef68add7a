"""The one email a member gets when a request is ready: summary and links, never a secret.

Sending goes through an outbox (``downloads.models.Outbox``), never from inside the
transaction that marks the request ready:

1. the preparation publishes its result and, in the same transaction, creates the request's
   outbox row (unique per request and kind, so the decision to email is taken once);
2. after that transaction commits, ``downloads.deliver_email`` is dispatched with the row's id;
3. the task claims the row like any job (row lock, short lease renewed by a heartbeat), sends
   over SMTP with no lock held, then marks the row sent. An SMTP failure hands the row back with
   its error and the task retries with backoff; a worker that dies leaves a row the sweeper
   re-sends once its lease expires; a row already sent is never claimed again.

What a crash between "sent" and "marked" can do: if the worker dies after the SMTP server
accepted the message and before the row is marked, the lease runs out and the sweeper sends it
again, so at that single point delivery is *at least once* (two copies), never zero. The window
is narrowed to one single-row UPDATE right after the server's 250 reply (no other work between),
and both copies carry the same ``Message-ID`` (derived from the outbox row), so mail clients and
many servers recognise the second one as a duplicate of the first.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils import timezone

from archiveportal import jobs
from downloads.models import DownloadRequest, Outbox
from downloads.script import human_size

log = logging.getLogger(__name__)
# Seconds an SMTP conversation may take before it counts as a (transient) failure: a mail
# server that hangs must not hang a worker.
SMTP_TIMEOUT = 30


def request_links(request) -> dict[str, str]:
    base = settings.PORTAL_BASE_URL.rstrip("/")
    return {
        "page": f"{base}/requests/{request.pk}/",
        "script": f"{base}/requests/{request.pk}/script",
        "files": f"{base}/requests/{request.pk}/files.txt",
        "manifest": f"{base}/requests/{request.pk}/manifest.tsv",
    }


def message_id(outbox) -> str:
    """The same Message-ID for every send of one outbox row, so a duplicate reads as one."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "archive-portal.invalid"
    return f"<outbox-{outbox.pk}@{domain}>"


def send_ready_email(request, *, msg_id: str | None = None) -> None:
    context = {
        "request": request,
        "links": request_links(request),
        "total": human_size(request.total_size or 0),
        "user": request.owner,
    }
    body = render_to_string("downloads/email/request_ready.txt", context)
    message = EmailMessage(
        f"[Archive Portal] Download request {str(request.pk)[:8]} is ready",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [request.owner.email],
        headers={"Message-ID": msg_id} if msg_id else None,
        connection=get_connection(fail_silently=False, timeout=SMTP_TIMEOUT),
    )
    message.send()


def queue_ready_email(request):
    """Record, in the caller's transaction, that ``request``'s ready email is to be sent.

    Dispatch happens after the transaction commits; a second call finds the existing row.
    """
    item, created = Outbox.objects.get_or_create(request=request, kind=Outbox.Kind.REQUEST_READY)
    if created:
        jobs.dispatch(item)
    return item


def deliver(outbox_id: str) -> None:
    """Send one outbox email, at most once per successful mark (see the module docstring)."""
    item = jobs.claim(Outbox, outbox_id)
    if item is None:
        return
    request = DownloadRequest.objects.select_related("owner").get(pk=item.request_id)
    try:
        send_ready_email(request, msg_id=message_id(item))
    except Exception as exc:
        # Hand the row back with its error: the task retries, or the sweeper re-sends it.
        Outbox.objects.filter(pk=item.pk).update(error_message=jobs.user_message(exc)[:2000])
        jobs.release(item)
        log.warning("email %s could not be sent (%s)", item.pk, type(exc).__name__)
        raise
    now = timezone.now()

    def mark(current) -> None:
        DownloadRequest.objects.filter(pk=current.request_id, notified_at__isnull=True).update(
            notified_at=now
        )

    jobs.finish(item, publish=mark, sent_at=now, error_message="")
