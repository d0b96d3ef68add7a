"""JSON API of the search: the same parameters as /aq/, token or session authentication."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apitokens.models import Scope
from apitokens.permissions import requires_scope
from archiveportal import openapi
from queries import columns as cols
from queries import selectors, services, tables
from queries.errors import QueryInputErrors
from queries.fields import parse_form, query_params
from queries.filters import observation_filter
from queries.models import Search


def _errors(exc: QueryInputErrors) -> Response:
    return Response(
        {"errors": {k: str(v) for k, v in exc.errors.items()}}, status=status.HTTP_400_BAD_REQUEST
    )


@login_not_required
@extend_schema(
    summary="One page of mirror observations matching ALMA-syntax constraints",
    parameters=[*openapi.SEARCH_PARAMETERS, *openapi.PAGE_PARAMETERS],
    responses={200: openapi.OBSERVATION_PAGE, 400: openapi.BAD_INPUT},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated, requires_scope(Scope.READ)])
def observations(request):
    """GET /api/observations/?band_list=3&page=2 -> one page of ObsCore rows."""
    values = query_params(request.query_params)
    try:
        parsed = parse_form(values)
    except QueryInputErrors as exc:
        return _errors(exc)
    names = [c.name for c in cols.COLUMNS]
    rows, info, _ = selectors.observations_page(
        observation_filter(parsed),
        sort=request.query_params.get("sort", ""),
        page=selectors.page_number(request.query_params.get("page")),
        size=settings.QUERIES_PAGE_SIZE,
        columns=names,
        total=tables.known_count(parsed),
    )
    # A search over a target list labels each row with the targets it matched, as the page's
    # and the export's ``target`` column do (only when the search has a list).
    targets = tables.target_labels(parsed, [row["obs_id"] for row in rows])
    if targets is not None:
        rows = [{**row, "target": targets.get(row["obs_id"], "")} for row in rows]
    return Response(
        {"count": info.total, "page": info.number, "pages": info.pages, "results": rows}
    )


def _search_json(search: Search) -> dict:
    return {
        "id": str(search.pk),
        "phase": search.phase,
        "params": search.params,
        "result_count": search.result_count,
        "notice": search.notice,
        "error": search.error_message,
        "adql": search.adql,
    }


@login_not_required
@extend_schema(
    summary="Start a search (a worker records it and, when live, asks the ALMA archive)",
    request=openapi.SEARCH_REQUEST,
    responses={201: openapi.SEARCH, 400: openapi.BAD_INPUT},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated, requires_scope(Scope.READ)])
def searches(request):
    """POST {params..., live?} -> a Search run by a worker; poll /api/searches/<id>/."""
    data = request.data  # an object: archiveportal.input_guard refuses any other JSON body
    wrong = {
        key: "must be a string in ALMA's query syntax."
        for key, value in data.items()
        if key not in ("live", "result_view") and not isinstance(value, str)
    }
    if wrong:
        return Response({"errors": wrong}, status=status.HTTP_400_BAD_REQUEST)
    try:
        search = services.start_search(
            owner=request.user,
            params=dict(data.items()),
            result_view=str(data.get("result_view", "raw")),
            live=str(data.get("live", "")).lower() in ("1", "true"),
        )
    except QueryInputErrors as exc:
        return _errors(exc)
    return Response(_search_json(search), status=status.HTTP_201_CREATED)


@login_not_required
@extend_schema(
    summary="One of my searches: phase, result count, notice, ADQL",
    responses={200: openapi.SEARCH, 404: OpenApiResponse(openapi.DETAIL, description="Not mine.")},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated, requires_scope(Scope.READ)])
def search_detail(request, pk):
    return Response(_search_json(get_object_or_404(Search, pk=pk, owner=request.user)))
