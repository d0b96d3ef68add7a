"""The data-access page: a PI's delegations, a delegate's holdings, personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apitokens import services as tokens
from apitokens.models import ApiToken, Scope
from apitokens.permissions import requires_scope
from archiveportal import openapi
from archiveportal.htmx import render_page_or_partial
from downloads import delegations
from downloads.forms_access import GrantForm, TokenForm
from downloads.identity import pi_projects
from downloads.models import Delegation, DelegationEvent
from queries.models import Project


def _context(request, form: GrantForm | None = None) -> dict:
    user = request.user
    projects = pi_projects(user).order_by("code")
    given = delegations.given_by(user).prefetch_related("events")
    return {
        "projects": projects,
        "given": [(d, delegations.status(d)) for d in given],
        "held": delegations.held_by(user),
        "form": form or GrantForm(pi=user, projects=projects),
        "events": DelegationEvent.objects.filter(delegation__pi=user).select_related(
            "actor", "delegation__delegate", "delegation__project"
        )[:50],
    }


def _render_access(request, context: dict, *, status: int = 200):
    return render_page_or_partial(
        request,
        page="downloads/access.html",
        partial="downloads/partials/access_delegations.html",
        context=context,
        status=status,
    )


def access_page(request):
    return _render_access(request, _context(request))


@require_POST
def grant_view(request):
    projects = pi_projects(request.user)
    form = GrantForm(request.POST, pi=request.user, projects=projects)
    if form.is_valid():
        try:
            delegations.grant(
                actor=request.user,
                delegate=form.cleaned_data["delegate"],
                project=form.cleaned_data["project"],
                expires_at=form.expires_at(),
            )
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, exc.messages[0] if hasattr(exc, "messages") else str(exc))
        else:
            if request.htmx:
                return _render_access(request, _context(request))
            messages.success(request, "Delegation granted.")
            return redirect("downloads:access")
    return _render_access(request, _context(request, form), status=422)


@require_POST
def revoke_view(request, pk: int):
    delegation = get_object_or_404(Delegation, pk=pk)
    delegations.revoke(actor=request.user, delegation=delegation)
    if request.htmx:
        return _render_access(request, _context(request))
    messages.success(request, "Delegation revoked.")
    return redirect("downloads:access")


def token_page(request):
    """Personal API tokens: a key is shown once, when created; afterwards only its first
    characters, scopes and dates (the portal keeps a hash, not the key)."""
    new_key = None
    form = TokenForm()
    status_code = 200
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            _, new_key = tokens.issue(
                user=request.user,
                scopes=form.cleaned_data["scopes"],
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
            )
            form = TokenForm()
        else:
            status_code = 400
    mine = tokens.tokens_of(request.user)
    response = render(
        request,
        "downloads/access_token.html",
        {
            "new_key": new_key,
            "form": form,
            "tokens": [(t, tokens.status(t)) for t in mine],
            "scope_labels": dict(Scope.choices),
        },
        status=status_code,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    tokens.revoke(actor=request.user, token=token)
    messages.success(request, "Token revoked.")
    return redirect("downloads:token")


class DelegationSerializer(serializers.ModelSerializer):
    pi = serializers.CharField(source="pi.username", read_only=True)
    delegate = serializers.CharField(source="delegate.username")
    project = serializers.CharField(source="project.code", allow_null=True, required=False)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Delegation
        fields = [
            "id",
            "pi",
            "delegate",
            "project",
            "expires_at",
            "revoked_at",
            "created_at",
            "status",
        ]
        read_only_fields = ["revoked_at", "created_at"]

    def get_status(self, obj: Delegation) -> str:
        return delegations.status(obj)


@login_not_required
@extend_schema(
    methods=["GET"],
    summary="Delegations I gave and hold",
    responses={
        200: inline_serializer(
            "DelegationLists",
            {
                "given": DelegationSerializer(many=True),
                "held": DelegationSerializer(many=True),
            },
        )
    },
)
@extend_schema(
    methods=["POST"],
    summary="Grant a member data access to one project or all of mine",
    request=openapi.DELEGATION_REQUEST,
    responses={201: DelegationSerializer, 400: OpenApiTypes.OBJECT, 403: openapi.DETAIL},
)
@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated, requires_scope(Scope.DELEGATIONS)])
def api_delegations(request):
    """GET: delegations I gave and hold. POST {delegate, project?, expires_at?}: grant one."""
    if request.method == "GET":
        return Response(
            {
                "given": DelegationSerializer(delegations.given_by(request.user), many=True).data,
                "held": DelegationSerializer(delegations.held_by(request.user), many=True).data,
            }
        )
    data = request.data
    delegate = get_user_model().objects.filter(username=data.get("delegate", "")).first()
    if delegate is None:
        return Response({"delegate": ["No such member."]}, status=status.HTTP_400_BAD_REQUEST)
    project = None
    if data.get("project"):
        project = Project.objects.filter(code=data["project"]).first()
        if project is None:
            return Response({"project": ["No such project code."]}, status=400)
    expires = serializers.DateTimeField(allow_null=True, required=False)
    try:
        expires_at = (
            expires.to_internal_value(data["expires_at"]) if data.get("expires_at") else None
        )
        delegation = delegations.grant(
            actor=request.user, delegate=delegate, project=project, expires_at=expires_at
        )
    except PermissionDenied as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    except ValidationError as exc:
        # A field's error names the field ({"project": [...]}); others are "detail".
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    except serializers.ValidationError as exc:
        return Response({"expires_at": exc.detail}, status=status.HTTP_400_BAD_REQUEST)
    return Response(DelegationSerializer(delegation).data, status=status.HTTP_201_CREATED)


@login_not_required
@extend_schema(
    summary="Revoke a delegation",
    responses={204: None, 403: openapi.DETAIL, 404: openapi.DETAIL},
)
@api_view(["DELETE"])
@permission_classes([IsAuthenticated, requires_scope(Scope.DELEGATIONS)])
def api_delegation(request, pk: int):
    delegation = get_object_or_404(Delegation, pk=pk)
    try:
        delegations.revoke(actor=request.user, delegation=delegation)
    except PermissionDenied as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    return Response(status=status.HTTP_204_NO_CONTENT)
