"""The one email a member gets when a request is ready: summary and links, never a secret."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from downloads.script import human_size


def request_links(request) -> dict[str, str]:
    base = settings.PORTAL_BASE_URL.rstrip("/")
    return {
        "page": f"{base}/requests/{request.pk}/",
        "script": f"{base}/requests/{request.pk}/script",
        "files": f"{base}/requests/{request.pk}/files.txt",
        "manifest": f"{base}/requests/{request.pk}/manifest.tsv",
    }


def send_ready_email(request) -> None:
    context = {
        "request": request,
        "links": request_links(request),
        "total": human_size(request.total_size or 0),
        "user": request.owner,
    }
    body = render_to_string("downloads/email/request_ready.txt", context)
    send_mail(
        f"[Archive Portal] Download request {str(request.pk)[:8]} is ready",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [request.owner.email],
        fail_silently=False,
    )
