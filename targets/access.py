"""Who may use a target list, and the request that asks.

A list is read by its owner, and by every member once its owner has named it in a lab-wide
saved search (sharing the search shares the list it needs); anyone else is refused with a
message, never shown someone else's targets.

The search form is parsed by ``queries.fields.parse_form``, which knows no user (a permalink
means the same for everyone). The ``target_list`` field's kind asks ``check_reader`` here, which
reads the member from the request being served (``ReaderMiddleware`` keeps it in a context
variable; DRF sets its authenticated user on the same request, so API tokens are checked too).
Code outside a request (the search worker, the watch evaluation) parses parameters that a
request already checked when they were saved or submitted, and is not asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from queries.models import SavedSearch

FIELD = "target_list"
_request: ContextVar[HttpRequest | None] = ContextVar("targets_request", default=None)


class ReaderMiddleware:
    """Keeps the request being served where ``check_reader`` can find its user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def may_read(user, target_list) -> bool:
    """The owner, an administrator, or any member when the owner shares a lab-wide saved
    search that names the list."""
    if not getattr(user, "is_authenticated", False):
        return False
    if target_list.owner_id == user.pk or user.is_superuser:
        return True
    return SavedSearch.objects.filter(
        owner_id=target_list.owner_id,
        visibility=SavedSearch.Visibility.LAB,
        params__target_list=str(target_list.pk),
    ).exists()


def current_user():
    """The member of the request being served, or None outside a request."""
    request = _request.get()
    return None if request is None else request.user


def in_request() -> bool:
    return _request.get() is not None
