"""``{% path 'app:name' %}``: ``{% url 'app:name' %}`` for a route without arguments, resolved
once per process.

A search page writes some twenty fixed addresses (the menu, the forms' actions, the pictures'
and the basket's endpoints); ``{% url %}`` resolves the URL patterns again for each, ~16 us
apiece, about a fifth of the page's template time (issue 13). An address without arguments
depends only on the URLconf and the script prefix the portal is mounted under, so it is
remembered per (name, URLconf, prefix): what ``reverse`` would return, escaped as ``{% url %}``
escapes it. Routes with arguments keep ``{% url %}``.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@register.simple_tag
def path(name: str) -> str:
    return _reversed(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@lru_cache(maxsize=512)
def _reversed(name: str, urlconf: str, prefix: str) -> str:
    # ``prefix`` is a key only: ``reverse`` reads the same prefix itself.
    return reverse(name, urlconf=urlconf)
