"""Login: Django's own views, throttled by django-axes (settings "Authentication").

Only two things are the portal's own: which address a login comes from when the portal sits
behind a proxy, and the lockout page. Counting, locking and unlocking are django-axes's.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind ``LOGIN_PROXY_COUNT`` trusted proxies,
    the entry they appended to ``LOGIN_CLIENT_IP_HEADER`` (counted from the right, since a
    client can put anything on the left)."""
    header = settings.LOGIN_CLIENT_IP_HEADER
    if header:
        hops = [h.strip() for h in request.META.get(header, "").split(",") if h.strip()]
        count = max(1, settings.LOGIN_PROXY_COUNT)
        if len(hops) >= count:
            return hops[-count][:64]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """The page a locked-out client gets (HTTP 429): when to try again, and who can unlock."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "plural": "s" if minutes != 1 else ""},
        status=429,
    )
