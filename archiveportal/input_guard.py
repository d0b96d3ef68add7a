"""Input no view can use, refused with a 400 that names the field, before any view runs.

Two kinds of input made the portal answer 500:

* A NUL character (``\\x00``, sent as ``%00`` or ``\\u0000``). PostgreSQL text cannot hold one, so
  psycopg raises as soon as such a value reaches a query, whichever query: the project and member
  OUS pages, DataLink's ``ID``, ``/dataPortal/``, the request builder, saved-search names,
  delegation fields, tokens, session cookies. No field of the portal has a use for NUL, so one
  check here covers every path, query parameter, form field, JSON value, header and cookie, instead
  of a special case per view (SQLite accepts NUL, so the embedded mode answers the same way).
* A JSON body that is not an object (``[1, 2]``, ``"x"``, ``null``) sent to the API, whose
  endpoints all read named fields from an object.

The answer names the field: the URL's own parameter (``code`` of ``/aq/project/<code>/``), the
query or form key, the JSON key path (``params.band_list``), the header or the cookie. API paths
and JSON requests get ``{"errors": {field: message}}`` as the API's other input errors do;
pages get the same text as ``text/plain``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve

NUL = "\x00"
NUL_MESSAGE = "contains a NUL character (\\x00), which no field accepts."
NOT_OBJECT_MESSAGE = 'must be a JSON object such as {{"name": "value"}}, not {kind}.'
API_PREFIX = "/api/"
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


def _json_nul(value: Any, where: str) -> Iterator[str]:
    """Key paths of every string in a decoded JSON document that holds a NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield where or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if NUL in str(key):
                yield path
            else:
                yield from _json_nul(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_nul(item, f"{where}[{index}]" if where else f"[{index}]")


def nul_keys(query: QueryDict) -> list[str]:
    """The keys (a NUL shown as ``\\x00``) whose key or any value holds a NUL. Views call it too
    for a field whose value is itself a query string (the saved-search form's ``query``), where
    ``%00`` arrives still encoded and only decodes in the view."""
    return [
        key.replace(NUL, "\\x00")
        for key, values in query.lists()
        if NUL in key or any(NUL in v for v in values)
    ]


def _path_field(request: HttpRequest) -> str:
    """The URL parameter holding the NUL (``code``, ``uid``, ``name``), else ``path``."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return "path"
    for name, value in match.kwargs.items():
        if NUL in str(value):
            return name
    return "path"


def _is_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or request.content_type.endswith("+json")


def problems(request: HttpRequest) -> dict[str, str]:
    """{field: message} for everything this guard refuses in ``request``; empty when fine."""
    found: dict[str, str] = {}
    if NUL in request.path:
        found[_path_field(request)] = NUL_MESSAGE
    found.update(dict.fromkeys(nul_keys(request.GET), NUL_MESSAGE))
    for kind, items in (("header", request.headers), ("cookie", request.COOKIES)):
        for name, value in items.items():
            if NUL in name or NUL in value:
                found[f"{name} {kind}"] = NUL_MESSAGE
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return found
    if _is_json(request):
        try:
            document = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return found  # malformed JSON: the API's parser answers 400 with its own message
        if request.path.startswith(API_PREFIX) and not isinstance(document, dict):
            kind = "null" if document is None else _JSON_KINDS.get(type(document), "a value")
            found["body"] = NOT_OBJECT_MESSAGE.format(kind=kind)
        for field in _json_nul(document, ""):
            found[field] = NUL_MESSAGE
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = request.POST
        except MultiPartParserError:
            return found
        found.update(dict.fromkeys(nul_keys(form), NUL_MESSAGE))
    return found


def bad_request(request: HttpRequest, found: dict[str, str]) -> HttpResponse:
    if request.path.startswith(API_PREFIX) or _is_json(request):
        return JsonResponse({"errors": found}, status=400)
    text = "Bad request:\n" + "".join(f"- {field}: {message}\n" for field, message in found.items())
    return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")


class InputGuardMiddleware:
    """Answers 400 naming the field for input no view can use (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = problems(request)
        if found:
            return bad_request(request, found)
        return self.get_response(request)
