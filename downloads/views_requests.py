"""Download request pages, their script and file lists, file serving and DataLink.

Every response that could name a file asks ``downloads.access`` first; a denied member OUS
contributes only its "proprietary until" message. Scripts and file serving accept a personal
token (``Authorization: Token ...``) so a batch job needs no browser session.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseGone
from django.shortcuts import get_object_or_404, redirect, render
from django_htmx.http import HttpResponseClientRefresh

from apitokens.authentication import user_for
from apitokens.models import Scope
from archiveportal.htmx import render_page_or_partial
from downloads import (
    access,
    basket,
    filelist,
    script,
    services,
    serving,
    tar_contents,
    tree,
    visibility,
)
from downloads.datalink_service import render_datalink
from downloads.models import DownloadRequest
from downloads.notifications import request_links
from queries.models import ArchiveFile


def _categories(request: HttpRequest) -> list[str]:
    chosen = request.GET.getlist("category") or request.POST.getlist("category")
    if not chosen and "classes" not in request.GET and "classes" not in request.POST:
        return [c.value for c in tree.DEFAULT_CATEGORIES]
    return [c for c in chosen if c in services.VALID_CATEGORIES]


def new_request(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    from_basket = data.get("basket") == "1"
    mous_uids = basket.uids(request.user) if from_basket and request.method == "GET" else []
    mous_uids += data.getlist("mous")
    projects = data.getlist("project")
    categories = _categories(request)
    mouses = tree.selected_mouses(mous_uids=mous_uids, project_codes=projects)
    # A fresh key for every rendered form; the same form posted twice names one request.
    idempotency_key = uuid.uuid4()
    status = 200
    if request.method == "POST":
        try:
            posted_key = services.parse_idempotency_key(data.get("idempotency_key"))
            created = services.submit_request(
                owner=request.user,
                mous_uids=[m.uid for m in mouses],
                categories=categories,
                layout=data.get("layout", "tree"),
                title=data.get("title", ""),
                idempotency_key=posted_key,
            )
        except ValueError as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            if from_basket:  # the request took them: the basket lets them go
                basket.remove(request.user, [m.uid for m in mouses])
            return redirect("downloads:request", pk=created.pk)
    built = tree.build_tree(request.user, mouses, categories=categories)
    context = {
        "tree": built,
        "categories": categories,
        "all_categories": tree.CATEGORY_ORDER,
        "category_labels": dict(tree.FileCategory.choices),
        "mous_uids": [m.uid for m in mouses],
        "empty": not mouses,
        "idempotency_key": idempotency_key,
        "from_basket": from_basket,
    }
    return render_page_or_partial(
        request,
        page="downloads/request_new.html",
        partial="downloads/partials/request_tree.html",
        context=context,
        status=status,
    )


def _own_request(request: HttpRequest, pk) -> DownloadRequest:
    found = get_object_or_404(DownloadRequest, pk=pk)
    if found.owner_id != request.user.pk and not request.user.is_superuser:
        raise Http404("No such request.")
    return found


def request_detail(request: HttpRequest, pk) -> HttpResponse:
    """The request's page; its status partial polls while a worker prepares it (showing how many
    member OUSs are listed so far), and a finished request reloads the whole page (htmx ends the
    polling with it). A ready request shows its tree and its sizes per file class, built from the
    files it holds and the access decision taken now: what the viewer may no longer download
    contributes no name, size or count."""
    found = _own_request(request, pk)
    state = services.status(found)
    if request.htmx and state in ("ready", "failed", "expired"):
        return HttpResponseClientRefresh()
    context = {
        "req": found,
        "state": state,
        "links": None,
        "mous_total": len(found.member_ous_uids),
    }
    if state == "ready":
        built = tree.build_tree(
            request.user,
            tree.selected_mouses(mous_uids=found.member_ous_uids),
            categories=found.categories,
            request_files=found.files.all(),
        )
        context["links"] = request_links(found)
        context["tree"] = built
        context["notes"] = [f"{m.mous.uid}: {m.decision.message}" for m in built.denied]
    return render_page_or_partial(
        request,
        page="downloads/request_detail.html",
        partial="downloads/partials/request_status.html",
        context=context,
    )


def request_list(request: HttpRequest) -> HttpResponse:
    mine = list(DownloadRequest.objects.filter(owner=request.user).order_by("-created_at")[:200])
    # A total is shown only while the member may still download all of it (not after a
    # delegation is revoked or expires).
    sized = visibility.requests_with_visible_sizes(request.user, mine, surface="request-list")
    rows = [(r, services.status(r), r.pk in sized) for r in mine]
    return render(request, "downloads/request_list.html", {"rows": rows})


def _token_user(request: HttpRequest):
    """The session user, or the owner of a live token with the download scope (a refused token
    answers 401/403 with the reason, through ``apitokens.middleware``)."""
    return user_for(request, scope=Scope.DOWNLOAD)


def _log_in_or_send_a_token() -> HttpResponse:
    return HttpResponse(
        "Log in, or send your token: Authorization: Token <key>",
        status=401,
        content_type="text/plain",
    )


def _ready_request(request: HttpRequest, pk):
    user = _token_user(request)
    if user is None:
        return None, _log_in_or_send_a_token()
    found = DownloadRequest.objects.filter(pk=pk).first()
    if found is None or (found.owner_id != user.pk and not user.is_superuser):
        return None, HttpResponse("No such request.", status=404, content_type="text/plain")
    state = services.status(found)
    if state == "expired":
        return None, HttpResponseGone("This request has expired; build a new one.")
    if state != "ready":
        return None, HttpResponse(
            f"The request is {state}, not ready yet.", status=409, content_type="text/plain"
        )
    return (found, user), None


@login_not_required
def request_script(request: HttpRequest, pk) -> HttpResponse:
    found, error = _ready_request(request, pk)
    if error:
        return error
    req, user = found
    files, notes = services.current_files(req, user)
    body = script.render_script(
        request_id=str(req.pk),
        files=files,
        portal_url=settings.PORTAL_BASE_URL,
        denied_notes=notes,
    )
    response = HttpResponse(body, content_type="text/x-shellscript; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="downloadRequest{req.pk}.sh"'
    return response


@login_not_required
def request_file_list(request: HttpRequest, pk) -> HttpResponse:
    found, error = _ready_request(request, pk)
    if error:
        return error
    files, _ = services.current_files(*found)
    return HttpResponse(filelist.render_url_list(files), content_type="text/plain")


@login_not_required
def request_manifest(request: HttpRequest, pk) -> HttpResponse:
    found, error = _ready_request(request, pk)
    if error:
        return error
    files, _ = services.current_files(*found)
    return HttpResponse(filelist.render_manifest(files), content_type="text/tab-separated-values")


def _refused_file(request: HttpRequest, name: str) -> HttpResponse | None:
    """The answer refusing ``name`` to this caller, or None when the access rule lets them have
    it. An unknown name and a refused one answer alike: a 403 would confirm the name exists."""
    user = _token_user(request)
    if user is None:
        return _log_in_or_send_a_token()
    file = ArchiveFile.objects.select_related("member_ous__project").filter(name=name).first()
    if file is None or not access.decide(user, file.member_ous, surface="file").allowed:
        return serving.not_found()
    return None


@login_not_required
def serve_file(request: HttpRequest, name: str) -> HttpResponse:
    """``/dataPortal/<name>``: the lab cache's copy, to those the access rule allows."""
    refused = _refused_file(request, name)
    if refused is not None:
        return refused
    path = serving.lab_file(name)
    if path is None:
        raise Http404("This file is not in the lab's data cache; fetch it from the archive.")
    return serving.file_response(request, path, filename=name)


@login_not_required
def serve_tar_member(request: HttpRequest, tar: str, member: str) -> HttpResponse:
    """``/dataPortal/<tar>/<member>``: one member of a lab-cache tar, as a byte range of the
    tar (DataLink lists these for ``expand_tarfiles``). Refused, unknown tar and unknown member
    all get the one ``not_found`` answer."""
    refused = _refused_file(request, tar)
    if refused is not None:
        return refused
    path = serving.lab_file(tar)
    found = tar_contents.member(path, member) if path is not None else None
    if found is None:
        return serving.not_found()
    return serving.file_response(
        request, path, filename=found.basename, offset=found.offset, size=found.size
    )


@login_not_required
def datalink(request: HttpRequest) -> HttpResponse:
    """``/datalink/sync?ID=<member OUS uid>``: a DataLink VOTable of what this account may get."""
    user = _token_user(request)
    if user is None:
        return _log_in_or_send_a_token()
    uid = request.GET.get("ID", "")
    return HttpResponse(render_datalink(user, uid), content_type="application/x-votable+xml")
