"""The basket's page and its forms (``downloads.basket`` does the work)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from downloads import basket
from downloads.access import decide_many
from downloads.script import human_size
from queries.errors import QueryInputErrors
from queries.fields import parse_form, query_params
from queries.filters import observation_filter


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/basket/"
    return redirect(target)


def _said(request: HttpRequest, added: int) -> str:
    held = basket.summary(request.user)
    return (
        f"{added} member OUS{'s' if added != 1 else ''} added; the basket holds "
        f"{held.mous_count} ({held.downloadable} downloadable now, "
        f"{human_size(held.downloadable_bytes)})."
    )


@require_POST
def basket_add(request: HttpRequest) -> HttpResponse:
    """The ticked rows of a result (its form's ``mous`` values), from the result page's
    button (htmx: the answer is the sentence it shows) or a plain form."""
    said = _said(request, basket.add(request.user, request.POST.getlist("mous")))
    if request.htmx:
        return HttpResponse(format_html('{} <a href="{}">Open the basket</a>', said, "/basket/"))
    messages.success(request, said)
    return _back(request)


def basket_offer(request: HttpRequest) -> HttpResponse:
    """The "tick all results" control of a result page (``partials/basket_offer.html``): how
    many member OUSs of the whole result the member may download, their size, how many
    proprietary ones are withheld, and whether they fit in the basket. Loaded by the result
    page after it is shown, so the page itself never waits for the aggregate."""
    try:
        q = observation_filter(parse_form(query_params(request.GET)))
    except QueryInputErrors:
        return HttpResponse(status=204)  # the result page shows the field's message
    found = basket.offer(request.user, q)
    return render(
        request,
        "downloads/partials/basket_offer.html",
        {
            "offer": found,
            "size": human_size(found.downloadable_bytes),
            "basket_max": settings.DOWNLOADS_BASKET_MAX,
        },
    )


@require_POST
def basket_add_result(request: HttpRequest) -> HttpResponse:
    """Every member OUS of the search the posted parameters describe that the member may
    download, all or none (the basket's bound)."""
    try:
        q = observation_filter(parse_form(query_params(request.POST)))
    except QueryInputErrors as exc:
        messages.error(request, "; ".join(str(e) for e in exc.errors.values()))
        return _back(request)
    try:
        added, found = basket.add_result(request.user, q)
    except basket.BasketFull as exc:
        messages.error(request, str(exc))
        return _back(request)
    said = _said(request, added)
    if found.withheld:
        said += (
            f" {found.withheld} proprietary member OUS{'s' if found.withheld != 1 else ''} of "
            "the result you may not download were left out."
        )
    messages.success(request, said)
    return _back(request)


@require_POST
def basket_remove(request: HttpRequest) -> HttpResponse:
    basket.remove(request.user, request.POST.getlist("mous"))
    return redirect("downloads:basket")


def basket_page(request: HttpRequest) -> HttpResponse:
    mouses = basket.member_ouses(request.user)
    decisions = decide_many(request.user, mouses, surface="basket")
    held = basket.summary(request.user, mouses)
    rows = [(m, decisions[m.uid]) for m in mouses]
    return render(
        request,
        "downloads/basket.html",
        {"rows": rows, "held": held, "size": human_size(held.downloadable_bytes)},
    )
