"""Issuing, checking and revoking personal API tokens.

A key is ``apk_`` + 43 URL-safe characters (256 random bits). It is returned once by ``issue``
and never stored: lookups hash the presented key and find the digest. Every refusal says why
(unknown, revoked, expired, missing scope), so a script can tell its user what to do.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet

from apitokens.models import ApiToken, Scope
from archiveportal import clock

KEY_MARKER = "apk_"
TOKEN_PAGE = "/access/token/"


class TokenRefused(Exception):
    """A presented token cannot be used here: ``status`` 401 (not valid) or 403 (wrong scope)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def issue(
    *, user, scopes: list[str], name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user``; the key is returned here and never again."""
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in Scope.values]
    if not chosen or unknown:
        raise ValidationError(
            {"scopes": f"Choose one or more of: {', '.join(Scope.values)}."}, code="invalid"
        )
    if expires_at is not None and expires_at <= clock.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    key = KEY_MARKER + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[:10],
        digest=digest_of(key),
        scopes=chosen,
        expires_at=expires_at,
    )
    return token, key


def revoke(*, actor, token: ApiToken) -> ApiToken:
    """The owner, or an administrator, ends a token at once."""
    if actor.pk != token.user_id and not actor.is_superuser:
        raise PermissionDenied("Only the token's owner or an administrator can revoke it.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
    return token


def tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def status(token: ApiToken, *, now: datetime | None = None) -> str:
    now = now or clock.now()
    if token.revoked_at:
        return "revoked"
    if token.expires_at and token.expires_at <= now:
        return "expired"
    return "active"


def check_key(key: str) -> ApiToken:
    """The live token for ``key``, or ``TokenRefused`` saying why not."""
    token = (
        ApiToken.objects.select_related("user").filter(digest=digest_of(key)).first()
        if key
        else None
    )
    if token is None or not token.user.is_active:
        raise TokenRefused("Invalid token.")
    now = clock.now()
    if token.revoked_at is not None:
        raise TokenRefused(f"This token was revoked; create a new one at {TOKEN_PAGE}.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused(
            f"This token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC; "
            f"create a new one at {TOKEN_PAGE}."
        )
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def require_scope(token: ApiToken, scope: str) -> None:
    if scope not in token.scopes:
        raise TokenRefused(
            f"This token does not carry the '{scope}' scope ({Scope(scope).label}); "
            f"create one that does at {TOKEN_PAGE}.",
            status=403,
        )
