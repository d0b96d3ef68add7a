"""``{% watch_form saved %}``: the watch control of one saved search, for the page that lists
them (the same partial the htmx answer swaps in)."""

from django import template

from watches.views import watch_context

register = template.Library()


@register.inclusion_tag("watches/partials/watch_form.html", takes_context=True)
def watch_form(context, saved):
    return watch_context(context["request"].user, saved) | {"csrf_token": context.get("csrf_token")}
