"""The one place a view chooses between a page and its htmx partial.

An htmx request gets the partial alone, any other request the page that includes it; both carry
``Vary: HX-Request`` (error answers too), so no cache hands a fragment to a browser that asked
for the page or the page to an htmx swap.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def render_page_or_partial(
    request: HttpRequest, *, page: str, partial: str, context: dict, status: int = 200
) -> HttpResponse:
    response = render(request, partial if request.htmx else page, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
