"""``{% broker_banner %}``: a clear notice on every page while background work cannot be queued."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from archiveportal.health import broker_is_up

register = template.Library()


@register.simple_tag
def broker_banner() -> str:
    if broker_is_up():
        return ""
    return format_html(
        '<div id="broker-banner" class="notice" role="status">{}</div>',
        "Background work is paused: the job queue cannot be reached. Pages and the mirror's "
        "results still work; searches and download requests you submit now are kept and will "
        "be processed as soon as the queue is back.",
    )
