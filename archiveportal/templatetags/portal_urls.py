"""``{% path 'app:name' %}``: ``{% url 'app:name' %}`` for a route without arguments, resolved
once per process.

A search page writes some twenty fixed addresses (the menu, the forms' actions, the pictures'
and the basket's endpoints); ``{% url %}`` resolves the URL patterns again for each, ~16 us
apiece, about a fifth of the page's template time (issue 13). An address without arguments
depends only on the URLconf and the script prefix the portal is mounted under, so each tag
remembers what ``reverse`` returned for the last (URLconf, prefix) it saw and writes it, escaped
as ``{% url %}`` escapes it, while they stay the same. ``{% path 'name' as var %}`` stores it,
as ``{% url ... as var %}`` does. Routes with arguments keep ``{% url %}``.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.base import Node, Parser, Token
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()


class PathNode(Node):
    def __init__(self, name: str, target: str | None) -> None:
        self.name, self.target = name, target
        # (urlconf, prefix, address, address escaped): one tuple, so threads swap it whole
        self._last: tuple[object, str, str, str] | None = None

    def render(self, context) -> str:
        urlconf, prefix = _environment(context)
        last = self._last
        if last is None or last[0] != urlconf or last[1] != prefix:
            address = reverse(self.name, urlconf=urlconf)
            last = self._last = (urlconf, prefix, address, conditional_escape(address))
        if self.target:
            context[self.target] = last[2]
            return ""
        return last[3] if context.autoescape else last[2]


def _environment(context) -> tuple[object, str]:
    """(URLconf, script prefix) of this render, read once per template render and kept on
    its ``Context``: both are context-local values (asgiref), a few microseconds a read, and
    a page has some twenty tags; neither changes while a page renders."""
    env = context.__dict__.get("_portal_url_environment")
    if env is None:
        env = (get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
        context._portal_url_environment = env
    return env


@register.tag
def path(parser: Parser, token: Token) -> PathNode:
    """``{% path 'app:name' %}`` or ``{% path 'app:name' as var %}``: a quoted route name."""
    bits = token.split_contents()
    if len(bits) not in (2, 4) or (len(bits) == 4 and bits[2] != "as"):
        raise template.TemplateSyntaxError("usage: {% path 'app:name' [as var] %}")
    name = bits[1]
    if len(name) < 2 or name[0] != name[-1] or name[0] not in "'\"":
        raise template.TemplateSyntaxError("{% path %} takes a quoted route name")
    return PathNode(name[1:-1], bits[3] if len(bits) == 4 else None)
