"""Target list pages: upload, the list's per-row progress (polled by htmx), and the member's
lists. Thin: parsing and the worker are ``services``, reads and who may read are ``selectors``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling

from targets import selectors, services
from targets.errors import TargetFileError
from targets.models import TargetList

MAX_UPLOAD_BYTES = 2_000_000  # 1,000 lines of names or coordinates are a few tens of kB


def lists_page(request: HttpRequest) -> HttpResponse:
    """The upload form and the member's own lists; POST uploads a file or pasted text."""
    context: dict = {"error": "", "name": "", "text": "", "max_rows": settings.TARGETS_MAX_ROWS}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        context["name"] = request.POST.get("name", "")[:200]
        context["text"] = request.POST.get("text", "")
        try:
            if upload is not None and upload.size > MAX_UPLOAD_BYTES:
                raise TargetFileError(
                    f"The file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB; a list holds "
                    "names or coordinates, one per line."
                )
            data = upload.read() if upload is not None else context["text"].encode()
            name = context["name"] or (upload.name if upload is not None else "")
            target_list = services.create_target_list(owner=request.user, name=name, data=data)
        except TargetFileError as exc:
            context["error"] = str(exc)
            status = 422
        else:
            return redirect("targets:detail", pk=target_list.pk)
    context["lists"] = selectors.lists_of(request.user)
    return render(request, "targets/lists.html", context, status=status)


def detail_page(request: HttpRequest, pk) -> HttpResponse:
    """A list's rows with their status; htmx polls the partial until the worker is done."""
    try:
        target_list = selectors.readable_list(request.user, pk)
    except (TargetList.DoesNotExist, PermissionDenied, ValueError):
        return _refused(request)
    context = {
        "target_list": target_list,
        "progress": selectors.progress(target_list),
        "rows": selectors.rows(target_list),
        "results_url": reverse("queries:search") + "?" + urlencode({"target_list": pk}),
        "project_url": reverse("queries:search")
        + "?"
        + urlencode({"target_list": pk, "result_view": "project"}),
    }
    if request.htmx:
        template = "targets/partials/target_status.html"
        if target_list.is_terminal:
            response = HttpResponseStopPolling(render_to_string(template, context, request))
        else:
            response = render(request, template, context)
    else:
        response = render(request, "targets/detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _refused(request: HttpRequest) -> HttpResponse:
    """Unknown and unreadable lists get the same answer: nothing to probe."""
    return render(
        request,
        "targets/refused.html",
        {"message": "This target list is not yours and not shared with the lab."},
        status=403,
    )
