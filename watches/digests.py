"""Sending one digest: the email's text and HTML, its unsubscribe links, and delivery once.

Delivery follows the outbox rule of ``downloads.notifications``: the digest row was created
and dispatched after the commit that attached its matches; the task claims the row, renders
from the database (so a retry sends the same content), sends with no lock held and marks the
row sent. Every send of one row carries the same ``Message-ID``.

Unsubscribe links are signed (``django.core.signing``, salted for this use) and name the
watches they stop; they need no login, and a ``List-Unsubscribe-Post`` header lets a mail
client stop them in one click (RFC 8058) with the same signed address.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from archiveportal import jobs
from watches.models import Digest, Watch
from watches.selectors import sections

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30
UNSUBSCRIBE_SALT = "watches.unsubscribe"


def unsubscribe_token(watch_ids: list[int]) -> str:
    return signing.dumps(sorted(watch_ids), salt=UNSUBSCRIBE_SALT, compress=True)


def watches_of_token(token: str) -> list[int]:
    """The watch ids a link names; ``signing.BadSignature`` for anything not signed by us."""
    ids = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise signing.BadSignature("not a list of watches")
    return ids


def absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def unsubscribe_url(watch_ids: list[int]) -> str:
    return absolute(reverse("watches:unsubscribe", args=[unsubscribe_token(watch_ids)]))


def address_of(digest: Digest) -> str:
    if digest.recipient == "list":
        return settings.WATCHES_LIST_ADDRESS
    return get_user_model().objects.get(pk=digest.user_id).email


def message_for(digest: Digest) -> EmailMultiAlternatives:
    parts = sections(digest.matches.all())
    for part in parts:
        part.results_url = absolute(
            reverse("queries:saved-open", args=[part.watch.saved_search_id])
        )
        part.unsubscribe_url = unsubscribe_url([part.watch.pk])
    all_url = unsubscribe_url([p.watch.pk for p in parts])
    context = {
        "digest": digest,
        "sections": parts,
        "unsubscribe_all": all_url,
        "whats_new": absolute(reverse("watches:whats-new")),
        "base": settings.PORTAL_BASE_URL.rstrip("/"),
    }
    count = sum(p.count for p in parts)
    subject = (
        f"[Archive Portal] {count} change{'s' if count != 1 else ''} in your watched searches"
        f" ({digest.get_frequency_display().lower()}, {digest.period.split('#')[0]})"
    )
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "archive-portal.invalid"
    message = EmailMultiAlternatives(
        subject,
        render_to_string("watches/email/digest.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [address_of(digest)],
        headers={
            "Message-ID": f"<digest-{digest.pk}@{domain}>",
            "List-Unsubscribe": f"<{all_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        connection=get_connection(fail_silently=False, timeout=SMTP_TIMEOUT),
    )
    message.attach_alternative(render_to_string("watches/email/digest.html", context), "text/html")
    return message


def deliver(digest_id: str) -> None:
    """Send one digest, at most once per successful mark (see ``downloads.notifications``)."""
    digest = jobs.claim(Digest, digest_id)
    if digest is None:
        return
    if not digest.matches.exists() or not address_of(digest):
        # Every watch in it was stopped before it left, or the member has no address.
        jobs.finish(digest, error_message="nothing to send")
        return
    try:
        message_for(digest).send()
    except Exception as exc:
        Digest.objects.filter(pk=digest.pk).update(error_message=jobs.user_message(exc)[:2000])
        jobs.release(digest)
        log.warning("digest %s could not be sent (%s)", digest.pk, type(exc).__name__)
        raise
    jobs.finish(digest, sent_at=timezone.now(), error_message="")


def unsubscribe(token: str) -> list[str]:
    """Stop the watches a signed link names; returns the names of the searches stopped."""
    watches = Watch.objects.filter(pk__in=watches_of_token(token)).select_related("saved_search")
    names = [w.saved_search.name for w in watches]
    watches.delete()
    return names
