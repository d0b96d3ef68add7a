"""TAP's asynchronous endpoint, ``/tap/async``: the UWS 1.1 REST binding that pyvo and TOPCAT use.

Thin views over ``vo.uws``. A job is visible to its owner only (anyone else gets 404, as for
every other object in the portal); jobs of anonymous clients, where the settings allow them,
are reachable by their unguessable URL and listed to nobody. Every change answers 303 to the
job (or to the list after a deletion), as UWS asks; refusals are plain text naming the problem.
"""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from django.contrib.auth.decorators import login_not_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from archiveportal import votable
from vo import uws
from vo.models import TapJob
from vo.views import VOTABLE, Refusal, caller, error_response, maxrec, output_format, param

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
UWS_NS = (
    'xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def _job_for(request: HttpRequest, job_id: str) -> TapJob:
    user = caller(request)
    job = TapJob.objects.filter(pk=job_id).first() if _is_uuid(job_id) else None
    if job is None:
        raise Http404("No such job.")
    if job.owner_id is not None and (user is None or job.owner_id != user.pk):
        raise Http404("No such job.")
    return job


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _job_url(request: HttpRequest, job: TapJob, tail: str = "") -> str:
    return request.build_absolute_uri(reverse("vo:tap-job", args=[job.pk])) + tail


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if value else ""


def _job_xml(request: HttpRequest, job: TapJob) -> str:
    def nil(tag: str, value) -> str:
        return (
            f"<uws:{tag}>{escape(value)}</uws:{tag}>" if value else f'<uws:{tag} xsi:nil="true"/>'
        )

    results = ""
    if job.phase == "done":
        href = escape(_job_url(request, job, "/results/result"))
        results = f'<uws:result id="result" xlink:href="{href}" mime-type="{VOTABLE}"/>'
    error = ""
    if job.phase == "failed":
        error = (
            '<uws:errorSummary type="fatal" hasDetail="true">'
            f"<uws:message>{escape(job.error_message)}</uws:message></uws:errorSummary>"
        )
    parameters = "".join(
        f'<uws:parameter id="{name}">{escape(str(value))}</uws:parameter>'
        for name, value in (
            ("query", job.query), ("lang", job.lang), ("maxrec", job.maxrec),
            ("format", job.response_format),
        )
    )  # fmt: skip
    return (
        f'{XML_HEAD}<uws:job {UWS_NS} version="1.1">'
        f"<uws:jobId>{job.pk}</uws:jobId>"
        + nil("runId", job.run_id)
        + nil("ownerId", job.owner.get_username() if job.owner_id else "")
        + f"<uws:phase>{job.uws_phase}</uws:phase>"
        + '<uws:quote xsi:nil="true"/>'
        + f"<uws:creationTime>{_iso(job.created_at)}</uws:creationTime>"
        + nil("startTime", _iso(job.started_at))
        + nil("endTime", _iso(job.finished_at))
        + f"<uws:executionDuration>{job.execution_duration}</uws:executionDuration>"
        + f"<uws:destruction>{_iso(job.destruction)}</uws:destruction>"
        + f"<uws:parameters>{parameters}</uws:parameters>"
        + f"<uws:results>{results}</uws:results>{error}</uws:job>\n"
    )


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def job_list(request: HttpRequest) -> HttpResponse:
    try:
        user = caller(request)
        if request.method == "POST":
            # UWS creates the job whatever its parameters say; a bad one is the job's ERROR.
            job = uws.create(
                owner=user,
                query=param(request, "QUERY") or "",
                lang=param(request, "LANG") or "ADQL",
                maxrec=maxrec(request),
                response_format=output_format(request),
                run_id=param(request, "RUNID") or "",
            )
            if (param(request, "PHASE") or "").upper() == "RUN":
                uws.run(job)
            return HttpResponseRedirect(_job_url(request, job), status=303)
    except (Refusal, uws.JobRefused) as refusal:
        status = getattr(refusal, "status", 400)
        return error_response(str(getattr(refusal, "message", refusal)), status)
    jobs = TapJob.objects.none() if user is None else TapJob.objects.filter(owner=user)
    wanted = [p.lower() for p in request.GET.getlist("PHASE")]
    items = "".join(
        f'<uws:jobref id="{job.pk}" xlink:href="{escape(_job_url(request, job))}">'
        f"<uws:phase>{job.uws_phase}</uws:phase>"
        f"<uws:creationTime>{_iso(job.created_at)}</uws:creationTime></uws:jobref>"
        for job in jobs.select_related("owner")[:1000]
        if not wanted or job.uws_phase.lower() in wanted
    )
    body = f'{XML_HEAD}<uws:jobs {UWS_NS} version="1.1">{items}</uws:jobs>\n'
    return HttpResponse(body, content_type="text/xml; charset=utf-8")


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST", "DELETE"])
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    try:
        job = _job_for(request, job_id)
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    if request.method == "DELETE" or (
        request.method == "POST" and (param(request, "ACTION") or "").upper() == "DELETE"
    ):
        uws.delete(job)
        return HttpResponseRedirect(request.build_absolute_uri(reverse("vo:tap-async")), status=303)
    if request.method == "POST":
        return _change(request, job, "phase")
    return HttpResponse(_job_xml(request, job), content_type="text/xml; charset=utf-8")


def _change(request: HttpRequest, job: TapJob, what: str) -> HttpResponse:
    try:
        if what == "phase":
            phase = (param(request, "PHASE") or "").upper()
            if phase == "RUN":
                uws.run(job)
            elif phase == "ABORT":
                uws.abort(job)
            elif phase:
                return _text(f"PHASE={phase[:20]} is not served; use RUN or ABORT\n", 400)
        elif what == "destruction":
            uws.set_destruction(job, param(request, "DESTRUCTION") or "")
        elif what == "executionduration":
            uws.set_execution_duration(job, param(request, "EXECUTIONDURATION") or "")
        elif what == "parameters":
            changes = {
                name: param(request, name)
                for name in ("QUERY", "LANG", "MAXREC", "RUNID")
                if param(request, name) is not None
            }
            fmt = param(request, "RESPONSEFORMAT") or param(request, "FORMAT")
            if fmt is not None:
                changes["FORMAT"] = output_format(request)
            if changes.get("MAXREC") is not None:
                changes["MAXREC"] = str(maxrec(request))
            uws.set_parameters(job, changes)
    except (uws.JobRefused, Refusal) as refused:
        return _text(f"{getattr(refused, 'message', refused)}\n", 400)
    return HttpResponseRedirect(_job_url(request, job), status=303)


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def job_attribute(request: HttpRequest, job_id: str, attribute: str) -> HttpResponse:
    try:
        job = _job_for(request, job_id)
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    if request.method == "POST" and attribute in (
        "phase", "destruction", "executionduration", "parameters",
    ):  # fmt: skip
        return _change(request, job, attribute)
    if request.method == "POST":
        return _text(f"{attribute} cannot be changed\n", 403)
    values = {
        "phase": job.uws_phase,
        "quote": "",
        "executionduration": str(job.execution_duration),
        "destruction": _iso(job.destruction),
        "owner": job.owner.get_username() if job.owner_id else "",
        "runid": job.run_id,
    }
    if attribute == "error":
        if job.phase != "failed":
            raise Http404("This job has no error.")
        return HttpResponse(votable.error(job.error_message), content_type=VOTABLE)
    if attribute == "parameters":
        return HttpResponse(_job_xml(request, job), content_type="text/xml; charset=utf-8")
    if attribute == "results":
        href = escape(_job_url(request, job, "/results/result"))
        items = f'<uws:result id="result" xlink:href="{href}"/>' if job.phase == "done" else ""
        return HttpResponse(
            f"{XML_HEAD}<uws:results {UWS_NS}>{items}</uws:results>\n",
            content_type="text/xml; charset=utf-8",
        )
    if attribute not in values:
        raise Http404("No such job resource.")
    return _text(values[attribute])


@login_not_required
def job_result(request: HttpRequest, job_id: str) -> HttpResponse:
    try:
        job = _job_for(request, job_id)
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    path = uws.result_path(job)
    if job.phase != "done" or not path.is_file():
        raise Http404("This job has no result (yet).")
    return FileResponse(path.open("rb"), content_type=VOTABLE)
