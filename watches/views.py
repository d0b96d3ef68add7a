"""Pages of the watches app: thin wrappers around ``watches.services`` and ``selectors``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from archiveportal.htmx import render_page_or_partial
from queries.models import SavedSearch
from watches import digests, services
from watches.ical import feed
from watches.models import CalendarFeed, Frequency, Watch
from watches.selectors import upcoming_releases, watches_of, whats_new


def watch_context(user, saved: SavedSearch, *, error: str = "") -> dict:
    return {
        "saved": saved,
        "watch": Watch.objects.filter(user=user, saved_search=saved).first(),
        "frequencies": Frequency.choices,
        "may_send_to_list": services.may_send_to_list(user, saved),
        "error": error,
    }


@require_POST
def watch_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Start, change or stop (frequency ``off``) the member's watch on a saved search."""
    saved = get_object_or_404(SavedSearch, pk=pk)
    frequency = request.POST.get("frequency", "")
    error, status = "", 200
    try:
        if frequency == "off":
            current = Watch.objects.filter(user=request.user, saved_search=saved).first()
            if current is not None:
                services.unwatch(user=request.user, watch=current)
        else:
            services.watch(
                user=request.user,
                saved=saved,
                frequency=frequency,
                to_list=request.POST.get("to_list") == "on",
            )
    except (ValidationError, PermissionDenied) as exc:
        error, status = (exc.messages[0] if isinstance(exc, ValidationError) else str(exc)), 422
    if not request.htmx:
        (messages.error if error else messages.success)(
            request, error or f"Watch on '{saved.name}' saved."
        )
        return redirect("watches:list")
    return render(
        request,
        "watches/partials/watch_form.html",
        watch_context(request.user, saved, error=error),
        status=status,
    )


def watch_list(request: HttpRequest) -> HttpResponse:
    return render(request, "watches/watches.html", {"watches": watches_of(request.user)})


def whats_new_page(request: HttpRequest) -> HttpResponse:
    return render_page_or_partial(
        request,
        page="watches/whats_new.html",
        partial="watches/partials/whats_new.html",
        context={"sections": whats_new(request.user)},
    )


def calendar_page(request: HttpRequest, *, token: str = "") -> HttpResponse:
    return render(
        request,
        "watches/calendar.html",
        {
            "projects": upcoming_releases(request.user),
            "has_feed": CalendarFeed.objects.filter(user=request.user).exists(),
            "feed_url": (
                request.build_absolute_uri(reverse("watches:feed", args=[token])) if token else ""
            ),
        },
    )


@require_POST
def feed_create(request: HttpRequest) -> HttpResponse:
    """A new secret address (replacing any old one), shown on this answer only."""
    return calendar_page(request, token=services.new_feed_token(user=request.user))


@require_POST
def feed_stop(request: HttpRequest) -> HttpResponse:
    services.stop_feed(user=request.user)
    messages.success(request, "Your calendar address no longer works.")
    return redirect("watches:calendar")


@login_not_required
def feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The feed, for a calendar program that cannot log in: the secret address is the key."""
    found = (
        CalendarFeed.objects.filter(token_hash=services.feed_hash(token))
        .select_related("user")
        .first()
    )
    if found is None or not found.user.is_active:
        raise Http404("No such calendar.")
    response = HttpResponse(feed(found.user), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


@login_not_required
@csrf_exempt  # the signed address is the credential; mail clients POST it in one click
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        watch_ids = digests.watches_of_token(token)
    except signing.BadSignature:
        return render(request, "watches/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        stopped = digests.unsubscribe(token)
        return render(request, "watches/unsubscribe.html", {"stopped": stopped, "done": True})
    names = list(
        Watch.objects.filter(pk__in=watch_ids).values_list("saved_search__name", flat=True)
    )
    return render(request, "watches/unsubscribe.html", {"names": names, "token": token})
