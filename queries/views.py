"""Search pages. One view, one selector, two templates: htmx requests get the partial alone.

The URL carries ALMA's own parameter names, so a page is a permalink and an ALMA query URL works
here by swapping the host. Submitting the form (a POST to ``/aq/run/``) also records a Search
that a worker executes (and, with ``live=1``, sends to the ALMA archive); the results themselves
render from the mirror at once.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from urllib.parse import quote_plus

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from archiveportal import input_guard
from archiveportal.htmx import render_page_or_partial
from downloads.access import is_public
from queries import columns as cols
from queries import exports, pictures, search_form, selectors, services, tables
from queries.adql import astroquery_snippet, to_adql
from queries.errors import QueryInputErrors
from queries.fields import BY_NAME, ParsedQuery, parse_form, query_params
from queries.filters import observation_filter
from queries.models import ColumnPreference, MemberOUS, Project, SavedSearch, Search


def _user_columns(request: HttpRequest) -> tuple[list[str], str, str]:
    """The member's columns and how positions and the spectral axis read."""
    pref = selectors.column_preference(request.user.pk)
    if pref is None:
        return cols.valid_columns(cols.DEFAULT_COLUMNS), "degrees", "frequency"
    return cols.valid_columns(pref["columns"]), pref["coordinates"], pref["spectral"]


def _link(params: dict, **changes) -> str:
    """A search page's query string (templates put it after ``{% url 'queries:search' %}``):
    ``urlencode``'s, with each (name, value) pair encoded once per process (``_pair``)."""
    merged = {**params, **changes}
    return "?" + "&".join([_pair(str(k), str(v)) for k, v in merged.items() if v not in (None, "")])


@lru_cache(maxsize=2048)
def _pair(name: str, value: str) -> str:
    """``name=value`` as ``urlencode`` writes it. A page writes some 25 links that share most
    of their pairs (the search's fields, its view and sort): cached, they cost a join."""
    return quote_plus(name) + "=" + quote_plus(value)


def _search_url(params: dict, **changes) -> str:
    return reverse("queries:search") + _link(params, **changes)


def _chips(values: dict, view: str, search_url: str) -> list[tuple[str, str, SafeString]]:
    """The active constraints as (label, value, the search's address without it), for
    removable chips."""
    return [
        (
            BY_NAME[name].label,
            value,
            _href(
                search_url, _link({k: v for k, v in values.items() if k != name}, result_view=view)
            ),
        )
        for name, value in values.items()
    ]


def _href(address: str, query: str = "") -> SafeString:
    """``address`` and ``query`` as the template's autoescape writes ``{{ a }}{{ q }}`` in an
    attribute, escaped once here: a page writes some twenty such links, and each pair of
    variables cost the template two look-ups and two escapes."""
    return escape(address + query)


def _render_search(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    return render_page_or_partial(
        request,
        page="queries/search.html",
        partial="queries/partials/results.html",
        context=context,
        status=status,
    )


def search_page(request: HttpRequest) -> HttpResponse:
    values = query_params(request.GET)
    view = request.GET.get("result_view", "raw")
    view = view if view in ("raw", "project") else "raw"
    sort = request.GET.get("sort", "")[:40]
    page = selectors.page_number(request.GET.get("page"))
    context: dict = {
        "values": values,
        "view": view,
        "sort": sort,
        "errors": {},
        "search_obj": None,
        "submitted": bool(values) or "result_view" in request.GET,
    }
    search_url = reverse("queries:search")
    try:
        parsed = parse_form(values)
    except QueryInputErrors as exc:
        context["errors"] = {name: str(err) for name, err in exc.errors.items()}
        context["form"] = search_form.compact_form(values, context["errors"])
        context["chips"] = _chips(values, view, search_url)
        context["links"] = {"base": _href(search_url)}
        return _render_search(request, context, status=422 if request.htmx else 200)

    fmt = request.GET.get("format")
    if fmt in exports.CONTENT_TYPES:
        return _export(parsed, fmt)

    search_id = request.GET.get("search")
    if search_id:
        context["search_obj"] = Search.objects.filter(
            pk=_uuid(search_id), owner=request.user
        ).first()
    base = {**values, "result_view": view, "sort": sort}
    if context["search_obj"] is not None:
        base["search"] = str(context["search_obj"].pk)
    q = observation_filter(parsed)
    size = settings.QUERIES_PAGE_SIZE
    adql = to_adql(parsed)
    permalink, base_qs = _link(values, result_view=view), _link(base)
    links = {
        "base": _href(search_url, base_qs),
        "permalink": _href(search_url, permalink),
        "permalink_qs": escape(permalink),
        "query": escape(permalink[1:]),  # the permalink's query string, without its "?"
        **{v: _href(search_url, _link(values, result_view=v)) for v in ("raw", "project")},
        **{f: _href(search_url, _link(values, format=f)) for f in exports.CONTENT_TYPES},
    }
    context.update(
        {
            "form": search_form.compact_form(values, {}),
            "chips": _chips(values, view, search_url),
            "adql": adql,
            "snippet": astroquery_snippet(adql),
            "links": links,
            "values_inputs": format_html_join(
                "", '<input type="hidden" name="{}" value="{}">', values.items()
            ),
        }
    )
    if view == "project":
        project_rows, page_info = selectors.projects_page(
            q,
            sort=sort,
            page=page,
            size=size,
            mous_q=selectors.member_ous_filter(parsed),
            known=tables.known_matches(parsed),
        )
        project_targets = tables.project_target_labels(parsed, [p.code for p in project_rows])
        context.update(
            {
                "project_body": tables.project_body(project_rows, project_targets),
                "project_targets": project_targets is not None,
                "page_info": page_info,
            }
        )
        links["sort_code"] = _href(
            search_url, _link(base, sort="-code" if sort == "code" else "code", page=1)
        )
    else:
        chosen, coordinates, spectral = _user_columns(request)
        rows, page_info, projects = selectors.observations_page(
            q, sort=sort, page=page, size=size, columns=chosen, total=tables.known_count(parsed)
        )
        shown = cols.displayed(chosen, coordinates=coordinates, spectral=spectral)
        context["display"] = {"coordinates": coordinates, "spectral": spectral}
        targets = tables.target_labels(parsed, [row["obs_id"] for row in rows])
        sort_links = {
            c.name: _link(base, sort=f"-{c.name}" if sort == c.name else c.name, page=1)
            for c in shown
        }
        context.update(
            {
                "page_info": page_info,
                "column_choices": tables.column_chooser(chosen),
                "raw_head": tables.raw_head(
                    shown,
                    sort=sort,
                    search_url=search_url,
                    sort_links=sort_links,
                    target=targets is not None,
                ),
                "raw_body": tables.raw_body(rows, shown, projects, targets),
            }
        )
    if page_info.has_previous:
        links["previous"] = _href(search_url, _link(base, page=page_info.number - 1))
    if page_info.has_next:
        links["next"] = _href(search_url, _link(base, page=page_info.number + 1))
    # The pictures draw the rows of this page, handed over so they need not search again; in
    # project view, where the table lists projects, the result's first rows.
    if view == "project":
        links["pictures_qs"] = escape(_link(values, result_view="project"))
    else:
        links["pictures_qs"] = escape(_link(values, sort=sort, page=page_info.number))
        if page_info.total:  # an empty result asks for no picture
            pictures.remember_page(
                request.user.pk,
                values,
                sort=sort,
                page=page_info.number,
                page_keys=pictures.PageKeys([row["obs_id"] for row in rows], page_info.total),
            )
    return _render_search(request, context)


def _picture_rows(request: HttpRequest) -> tuple[ParsedQuery, Q, list[dict], int | None]:
    """(parsed query, its Q, the rows to draw, the result's size or None when unknown) for a
    picture: the raw page's rows as the page handed them over (``pictures.remember_page``),
    or, that gone, paged again; in project view the result's first rows."""
    values = query_params(request.GET)
    parsed = parse_form(values)
    q = observation_filter(parsed)
    size = settings.QUERIES_PAGE_SIZE
    if request.GET.get("result_view") == "project":
        return parsed, q, pictures.first_rows(q, size), None
    sort = request.GET.get("sort", "")[:40]
    number = selectors.page_number(request.GET.get("page"))
    page_keys = pictures.handed_page(request.user.pk, values, sort=sort, page=number)
    if page_keys is None:
        rows, page_info, _ = selectors.observations_page(
            q, sort=sort, page=number, size=size, columns=[]
        )
        page_keys = pictures.PageKeys([row["obs_id"] for row in rows], page_info.total)
    return parsed, q, pictures.page_rows(page_keys), page_keys.total


def _picture_refused(exc: QueryInputErrors) -> HttpResponse:
    messages = "; ".join(str(err) for err in exc.errors.values())
    return HttpResponse(
        format_html('<p class="notice error" role="alert">No picture: {}</p>', messages),
        status=422,
    )


def sky_fragment(request: HttpRequest) -> HttpResponse:
    """The sky plot of the rows of a result page (``partials/sky.html``)."""
    try:
        _, q, rows, total = _picture_rows(request)
    except QueryInputErrors as exc:
        return _picture_refused(exc)
    svg, data, caption = pictures.sky(q, rows, total)
    return render(
        request,
        "queries/partials/sky.html",
        {
            "svg": svg,
            "sky_data": data,
            "context_caption": caption,
            "project_view": request.GET.get("result_view") == "project",
        },
    )


def spectrum_fragment(request: HttpRequest) -> HttpResponse:
    """The spectral view of the rows of a result page (``partials/spectrum.html``)."""
    try:
        parsed, _, rows, _ = _picture_rows(request)
    except QueryInputErrors as exc:
        return _picture_refused(exc)
    svg = pictures.spectrum(parsed, rows)
    return render(
        request,
        "queries/partials/spectrum.html",
        {"svg": svg, "project_view": request.GET.get("result_view") == "project"},
    )


def _uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _export(parsed, fmt: str) -> StreamingHttpResponse:
    """The whole result, streamed as it is read (``queries.exports``)."""
    limit = settings.QUERIES_EXPORT_MAX_ROWS
    names = [c.name for c in cols.COLUMNS]
    export = exports.export(
        observation_filter(parsed),
        names,
        fmt,
        max_rows=limit,
        labeller=exports.target_labeller(parsed),
    )
    response = StreamingHttpResponse(export.chunks, content_type=exports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = (
        f'attachment; filename="alma_search.{exports.EXTENSIONS[fmt]}"'
    )
    if export.truncated:
        response["X-Result-Truncated"] = str(limit)
    return response


@require_POST
def run_search(request: HttpRequest) -> HttpResponse:
    """Record the search for a worker (and the live archive), then show its results page."""
    values = query_params(request.POST)
    view = request.POST.get("result_view", "raw")
    try:
        search = services.start_search(
            owner=request.user,
            params=values,
            result_view=view,
            live=request.POST.get("live") == "1",
        )
    except QueryInputErrors:
        return redirect(_search_url(values, result_view=view))
    return redirect(_search_url(values, result_view=view, search=str(search.pk)))


def search_status(request: HttpRequest, pk) -> HttpResponse:
    """The polled status line; a finished search stops the polling (and, when the live archive
    was asked, tells the results to reload: it may have added rows)."""
    search = get_object_or_404(Search, pk=pk, owner=request.user)
    template, context = "queries/partials/search_status.html", {"search_obj": search}
    if not search.is_terminal:
        return render(request, template, context)
    response = HttpResponseStopPolling(render_to_string(template, context, request=request))
    if search.live:
        trigger_client_event(response, "search-done")
    return response


@require_POST
def save_columns(request: HttpRequest) -> HttpResponse:
    chosen = cols.valid_columns(request.POST.getlist("columns"))
    defaults: dict[str, object] = {"columns": chosen}
    if request.POST.get("coordinates") in cols.COORDINATES:
        defaults["coordinates"] = request.POST["coordinates"]
    if request.POST.get("spectral") in cols.SPECTRAL:
        defaults["spectral"] = request.POST["spectral"]
    ColumnPreference.objects.update_or_create(user=request.user, defaults=defaults)
    search = reverse("queries:search")
    back = request.POST.get("next", search)
    return redirect(back if back.startswith(search) else search)


def project_page(request: HttpRequest, code: str) -> HttpResponse:
    project = get_object_or_404(Project, code=code)
    mouses = project.member_ouses.select_related("group_ous").order_by("uid")
    return render(
        request,
        "queries/project.html",
        {
            "project": project,
            "mouses": [(m, is_public(m)) for m in mouses],
        },
    )


def mous_page(request: HttpRequest, uid: str) -> HttpResponse:
    if not uid.startswith("uid://"):
        uid = uid.replace("uid___", "uid://").replace("_", "/")
    mous = MemberOUS.objects.select_related("project", "group_ous").filter(uid=uid).first()
    if mous is None:
        raise Http404("No such member OUS in the mirror.")
    observations = mous.observations.order_by("obs_id").values(
        "obs_id", "target_name", "band_list", "frequency", "spatial_resolution", "t_exptime"
    )
    return render(
        request,
        "queries/mous.html",
        {
            "mous": mous,
            "public": is_public(mous),
            "observations": observations,
            "blocks": mous.execution_blocks.order_by("asdm_uid"),
        },
    )


def saved_list(request: HttpRequest) -> HttpResponse:
    saved = services.visible_saved_searches(request.user).order_by("name")
    mine = [s for s in saved if s.owner_id == request.user.pk]
    lab = [s for s in saved if s.owner_id != request.user.pk]
    return render(request, "queries/saved.html", {"mine": mine, "lab": lab})


@require_POST
def saved_create(request: HttpRequest) -> HttpResponse:
    query = QueryDict(request.POST.get("query", ""))
    if input_guard.nul_keys(query):
        return input_guard.bad_request(request, {"query": input_guard.NUL_MESSAGE})
    params = query_params(query)
    try:
        saved = services.save_search(
            owner=request.user,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            params=params,
            result_view=request.POST.get("result_view", "raw"),
            visibility=request.POST.get("visibility", "private"),
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect(_search_url(params))
    except QueryInputErrors as exc:
        messages.error(request, str(exc))
        return redirect("queries:search")
    messages.success(
        request,
        f"Saved '{saved.name}'" + (" for the whole lab." if saved.visibility == "lab" else "."),
    )
    return redirect("queries:saved")


def saved_open(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(services.visible_saved_searches(request.user), pk=pk)
    return redirect(_search_url(saved.params, result_view=saved.result_view))


@require_POST
def saved_rename(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedSearch, pk=pk)
    try:
        services.rename_saved(
            user=request.user,
            saved=saved,
            name=request.POST.get("name", ""),
            description=request.POST.get("description"),
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("queries:saved")


@require_POST
def saved_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedSearch, pk=pk)
    services.delete_saved(user=request.user, saved=saved)
    messages.success(request, f"Deleted '{saved.name}'.")
    return redirect("queries:saved")
