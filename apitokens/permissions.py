"""Scope checks for DRF views: a token works only where its scope says.

``TokenScope`` (scope None) is in ``DEFAULT_PERMISSION_CLASSES``, so an API view that declares no
scope refuses every token (fails closed); a view declares one with
``@permission_classes([IsAuthenticated, requires_scope(Scope.READ)])``. Session users are not
limited by scopes.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from apitokens.models import ApiToken, Scope


class TokenScope(BasePermission):
    scope: str | None = None
    message = "Tokens are not accepted here; log in instead."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        return self.scope is not None and self.scope in token.scopes


def requires_scope(scope: str) -> type[TokenScope]:
    label = Scope(scope).label
    return type(
        f"Requires{scope.title()}Scope",
        (TokenScope,),
        {
            "scope": scope,
            "message": f"This token does not carry the '{scope}' scope ({label}); "
            "create one that does at /access/token/.",
        },
    )
