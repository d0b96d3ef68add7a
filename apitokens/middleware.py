"""Turns a ``TokenRefused`` raised by a plain Django view into a plain-text 401/403 with the
reason, so a script's user reads why (expired, revoked, wrong scope) instead of a bare error."""

from __future__ import annotations

from django.http import HttpResponse

from apitokens.services import TokenRefused


class TokenRefusalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, TokenRefused):
            return None
        response = HttpResponse(
            exception.message + "\n", status=exception.status, content_type="text/plain"
        )
        if exception.status == 401:
            response["WWW-Authenticate"] = 'Token realm="api"'
        return response
