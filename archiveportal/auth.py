"""Login with failed-attempt throttling.

Counts failed logins per username and per client address in the cache (Redis in production, so
every web process sees the same count) and refuses further attempts for the rest of the window
once ``LOGIN_THROTTLE_ATTEMPTS`` is reached, with a message that says when to try again. The
count is not reset by a successful login of another account from the same address.
"""

from __future__ import annotations

import hashlib
import math
import time

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache


def _keys(request, username: str) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "unknown") if request else "unknown"
    user_key = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{user_key}", f"login-fail:addr:{address}"]


def _blocked_for(keys: list[str]) -> int:
    """Seconds left in the block, 0 when attempts are allowed."""
    now = time.time()
    left = 0
    for key in keys:
        entry = cache.get(key)
        if entry and entry["count"] >= settings.LOGIN_THROTTLE_ATTEMPTS:
            left = max(left, int(entry["start"] + settings.LOGIN_THROTTLE_WINDOW - now))
    return max(left, 0)


def _record_failure(keys: list[str]) -> None:
    now = time.time()
    for key in keys:
        entry = cache.get(key) or {"count": 0, "start": now}
        entry["count"] += 1
        cache.set(key, entry, timeout=settings.LOGIN_THROTTLE_WINDOW)


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = self.data.get("username", "")
        keys = _keys(self.request, username)
        left = _blocked_for(keys)
        if left:
            minutes = max(1, math.ceil(left / 60))
            raise forms.ValidationError(
                f"Too many failed attempts; try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            _record_failure(keys)
            raise


class ThrottledLoginView(LoginView):
    authentication_form = ThrottledAuthenticationForm
