"""The OpenAPI 3 description of the JSON API, served by drf-spectacular at ``/api/schema/`` and
browsable at ``/api/docs/`` (Swagger UI from drf-spectacular-sidecar: no CDN).

The API's views are plain ``@api_view`` functions that read ALMA's own parameter names, so there
is no serializer for spectacular to read; the shapes are declared here once, from the same field
catalogue (``queries.fields.FIELDS``) the form and the parser use, so a new search field appears
in the schema without anyone editing it. The views attach them with ``@extend_schema``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from queries import columns as cols
from queries.fields import FIELDS, FieldSpec


def _describe(spec: FieldSpec) -> str:
    text = f"{spec.label}. Accepts {spec.syntax}."
    return f"{text} {spec.help}" if spec.help else text


SEARCH_PARAMETERS = [
    OpenApiParameter(
        spec.name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=_describe(spec)
    )
    for spec in FIELDS
]
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY, description="1-based."),
    OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description="A column name, '-' first for descending: "
        + ", ".join(c.name for c in cols.COLUMNS),
    ),
]

ERRORS = inline_serializer(
    "InputErrors",
    {
        "errors": serializers.DictField(
            child=serializers.CharField(),
            help_text="{field: what is wrong and the accepted syntax}",
        )
    },
)
DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})

OBSERVATION_PAGE = inline_serializer(
    "ObservationPage",
    {
        "count": serializers.IntegerField(),
        "page": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "results": serializers.ListField(
            child=serializers.DictField(),
            help_text=(
                "ObsCore rows, the columns of the raw view; a search over a target list "
                "(`target_list`) adds `target`, the labels of the list's targets each row "
                "matched, joined by '; '."
            ),
        ),
    },
)

SEARCH_REQUEST = inline_serializer(
    "SearchRequest",
    {
        **{
            spec.name: serializers.CharField(required=False, help_text=_describe(spec))
            for spec in FIELDS
        },
        "result_view": serializers.ChoiceField(choices=["raw", "project"], required=False),
        "live": serializers.BooleanField(
            required=False, help_text="Also ask the ALMA archive (a worker does)."
        ),
    },
)
SEARCH = inline_serializer(
    "Search",
    {
        "id": serializers.UUIDField(),
        "phase": serializers.CharField(),
        "params": serializers.DictField(child=serializers.CharField()),
        "result_count": serializers.IntegerField(allow_null=True),
        "notice": serializers.CharField(),
        "error": serializers.CharField(),
        "adql": serializers.CharField(),
    },
)

DELEGATION_REQUEST = inline_serializer(
    "DelegationRequest",
    {
        "delegate": serializers.CharField(help_text="The member's user name."),
        "project": serializers.CharField(
            required=False, allow_null=True, help_text="A project code; omit for all projects."
        ),
        "expires_at": serializers.DateTimeField(required=False, allow_null=True),
    },
)
BAD_INPUT = OpenApiResponse(ERRORS, description="Input errors, each naming its field.")
