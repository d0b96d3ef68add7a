"""A plain 404 page in every mode.

With DEBUG on (embedded mode runs so), Django answers an unknown URL with its technical page,
which lists the whole URLconf (and a view's 404 message) to anyone. This middleware, first in the
chain, replaces any such HTML 404 with ``templates/404.html``, the page production shows.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseNotFound
from django.template.loader import render_to_string


class Plain404Middleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "streaming", False)
        ):
            return HttpResponseNotFound(render_to_string("404.html", request=request))
        return response
