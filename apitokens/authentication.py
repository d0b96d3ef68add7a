"""``Authorization: Token <key>`` for DRF views and for the plain Django views that serve data.

DRF views use ``PortalTokenAuthentication`` plus a scope permission (``apitokens.permissions``);
the file, script and DataLink views call ``user_for(request, scope=...)``. Both go through
``services.check_key``, so a revoked, expired or wrongly scoped token is refused everywhere the
same way, with a message.
"""

from __future__ import annotations

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from apitokens import services
from apitokens.services import TokenRefused

KEYWORD = b"token"


def key_from_header(request) -> str | None:
    """The key of an ``Authorization: Token <key>`` header; None when there is no such header."""
    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != KEYWORD:
        return None
    if len(parts) != 2:
        raise TokenRefused("Invalid token header: send 'Authorization: Token <key>'.")
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise TokenRefused("Invalid token.") from None


class PortalTokenAuthentication(BaseAuthentication):
    """DRF authentication by hashed personal token; ``request.auth`` is the ``ApiToken``."""

    def authenticate(self, request):
        try:
            key = key_from_header(request)
            if key is None:
                return None
            token = services.check_key(key)
        except TokenRefused as exc:
            raise AuthenticationFailed(exc.message) from None
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a missing or refused token.
        return 'Token realm="api"'


def user_for(request: HttpRequest, *, scope: str):
    """The session user, else the owner of a live token carrying ``scope``, else None.

    Raises ``TokenRefused`` when a token is presented but cannot be used here;
    ``apitokens.middleware.TokenRefusalMiddleware`` turns it into a plain-text 401/403.
    """
    if request.user.is_authenticated:
        return request.user
    key = key_from_header(request)
    if key is None:
        return None
    token = services.check_key(key)
    services.require_scope(token, scope)
    return token.user


class PortalTokenScheme(OpenApiAuthenticationExtension):
    """How ``/api/schema/`` describes the token: ``Authorization: Token <key>``."""

    target_class = "apitokens.authentication.PortalTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal API token (Data access > Personal API tokens), sent as "
            "'Token <key>'. Scopes: read (search API), download (files, scripts, DataLink), "
            "delegations (the delegation API).",
        }
