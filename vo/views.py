"""TAP 1.1 (synchronous queries) and its VOSI resources, for astroquery, pyvo and TOPCAT.

``/tap/sync`` takes ``QUERY`` (ADQL), ``LANG``, ``MAXREC`` and ``FORMAT``/``RESPONSEFORMAT`` by
GET or POST, parameter names in any case, as TAP 1.1 says. Metadata is for members (a session or
``Authorization: Token <key>`` with the ``read`` scope); ``VO_ANONYMOUS_METADATA`` opens it to
anonymous clients as ALMA's own service is open. The VOSI capabilities and availability documents
describe the service only and are open to all. Every refusal is a VOTable error document
(``QUERY_STATUS=ERROR``) whose text names the problem, with HTTP 400, 401 or 503.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from xml.sax.saxutils import escape

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apitokens.authentication import user_for
from archiveportal import votable
from vo import adql, catalogue, execute, sia

VOTABLE = "application/x-votable+xml"
FORMATS = {
    "votable": "votable",
    "application/x-votable+xml": "votable",
    "text/xml": "votable",
    "votable/td": "votable",
    "csv": "csv",
    "text/csv": "csv",
    "tsv": "tsv",
    "text/tab-separated-values": "tsv",
}


class Refusal(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def param(request: HttpRequest, name: str) -> str | None:
    """A TAP parameter by name in any case, from the query string or the form body."""
    wanted = name.upper()
    for source in (request.POST, request.GET):
        for key in source:
            if key.upper() == wanted:
                return source.get(key)
    return None


def error_response(message: str, status: int = 400) -> HttpResponse:
    response = HttpResponse(votable.error(message), status=status, content_type=VOTABLE)
    if status == 401:
        response["WWW-Authenticate"] = 'Token realm="tap"'
    return response


def caller(request: HttpRequest):
    """The member asking, or None for an anonymous client the settings let in."""
    user = user_for(request, scope="read")
    if user is None and not settings.VO_ANONYMOUS_METADATA:
        raise Refusal(
            "This TAP service is for the lab's members: log in, or send "
            "'Authorization: Token <key>' with a personal token that has the read scope.",
            401,
        )
    return user


def maxrec(request: HttpRequest) -> int:
    text = param(request, "MAXREC")
    if text in (None, ""):
        return settings.VO_TAP_MAXREC_DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise Refusal(f"MAXREC must be a whole number >= 0, not {text[:40]!r}") from None
    if value < 0:
        raise Refusal(f"MAXREC must be a whole number >= 0, not {value}")
    return min(value, settings.VO_TAP_MAXREC_LIMIT)


def output_format(request: HttpRequest) -> str:
    text = param(request, "RESPONSEFORMAT") or param(request, "FORMAT") or "votable"
    key = text.split(";")[0].strip().lower()
    if key not in FORMATS:
        raise Refusal(f"FORMAT {text[:60]!r} is not served; use votable, csv or tsv")
    return FORMATS[key]


def run_query(request: HttpRequest) -> tuple[execute.Result, str]:
    request_kind = param(request, "REQUEST")
    if request_kind not in (None, "", "doQuery"):
        raise Refusal(f"REQUEST={request_kind[:40]!r} is not served; use REQUEST=doQuery")
    lang = param(request, "LANG") or "ADQL"
    if not lang.upper().startswith("ADQL"):
        raise Refusal(f"LANG={lang[:40]!r} is not served; use LANG=ADQL")
    query = param(request, "QUERY")
    if not query:
        raise Refusal("QUERY is missing: send QUERY=<an ADQL SELECT statement>")
    fmt = output_format(request)
    limit = maxrec(request)
    try:
        translation = adql.translate(query, catalogue.tables(), vendor=connection.vendor)
    except adql.AdqlError as refused:
        raise Refusal(f"QUERY: {refused}") from None
    try:
        result = execute.run(translation, maxrec=limit)
    except execute.QueryFailed as failed:
        raise Refusal(f"QUERY: {failed}") from None
    return result, fmt


def render(result: execute.Result, fmt: str) -> StreamingHttpResponse:
    if fmt == "votable":
        body = votable.stream(result.columns, result.rows, overflow=lambda: result.overflow)
        return StreamingHttpResponse(body, content_type=VOTABLE)
    delimiter = "," if fmt == "csv" else "\t"
    content_type = "text/csv" if fmt == "csv" else "text/tab-separated-values"
    return StreamingHttpResponse(
        _delimited(result, delimiter), content_type=f"{content_type}; charset=utf-8"
    )


def _delimited(result: execute.Result, delimiter: str) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow([c.name for c in result.columns])
    for row in result.rows:
        writer.writerow(["" if v is None else _text(v) for v in row])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _text(value: object) -> str:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if isoformat else str(value)


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def sync(request: HttpRequest) -> HttpResponse:
    try:
        caller(request)
        result, fmt = run_query(request)
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    return render(result, fmt)


@login_not_required
def tap_root(request: HttpRequest) -> HttpResponse:
    base = request.build_absolute_uri("/tap")
    text = (
        "Archive Portal TAP 1.1 service (ADQL over the lab's ALMA mirror).\n"
        f"Synchronous queries: {base}/sync   VOSI: {base}/capabilities, {base}/availability, "
        f"{base}/tables\n"
    )
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@login_not_required
def capabilities(request: HttpRequest) -> HttpResponse:
    base = escape(request.build_absolute_uri("/tap"))
    geometry = "".join(
        f"<feature><form>{form}</form></feature>"
        for form in ("POINT", "CIRCLE", "BOX", "POLYGON", "CONTAINS", "INTERSECTS", "DISTANCE",
                     "COORD1", "COORD2")
    )  # fmt: skip
    formats = (
        '<outputFormat ivo-id="ivo://ivoa.net/std/TAPRegExt#output-votable-td">'
        "<mime>application/x-votable+xml</mime><alias>votable</alias></outputFormat>"
        "<outputFormat><mime>text/csv</mime><alias>csv</alias></outputFormat>"
        "<outputFormat><mime>text/tab-separated-values</mime><alias>tsv</alias></outputFormat>"
    )
    vosi = "".join(
        f'<capability standardID="ivo://ivoa.net/std/VOSI#{name}">'
        f'<interface xsi:type="vs:ParamHTTP" role="std"><accessURL use="full">{base}/{name}'
        "</accessURL></interface></capability>"
        for name in ("capabilities", "availability", "tables")
    ) + (
        '<capability standardID="ivo://ivoa.net/std/DALI#examples">'
        '<interface xsi:type="vr:WebBrowser" xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0">'
        f'<accessURL use="full">{base}/examples</accessURL></interface></capability>'
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0">'
        '<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">'
        f'<interface xsi:type="vs:ParamHTTP" role="std" version="1.1"><accessURL use="base">{base}'
        "</accessURL></interface>"
        '<language><name>ADQL</name><version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>'
        "<description>ADQL 2.0 with the ADQL 2.1 maths and geometry named here</description>"
        '<languageFeatures type="ivo://ivoa.net/std/TAPRegExt#features-adqlgeo">'
        f"{geometry}</languageFeatures></language>{formats}"
        f'<outputLimit><default unit="row">{settings.VO_TAP_MAXREC_DEFAULT}</default>'
        f'<hard unit="row">{settings.VO_TAP_MAXREC_LIMIT}</hard></outputLimit>'
        f"</capability>{vosi}</vosi:capabilities>\n"
    )
    return HttpResponse(document, content_type="text/xml; charset=utf-8")


EXAMPLES = [
    (
        "cone",
        "Footprints meeting a cone (exact spherical geometry)",
        "SELECT obs_id, target_name, band_list, frequency FROM ivoa.obscore\n"
        "WHERE 1 = INTERSECTS(CIRCLE('ICRS', 83.8092, -5.3751, 0.2), s_region)",
    ),
    (
        "band6-public",
        "Public band 6 observations, newest first",
        "SELECT TOP 100 obs_id, proposal_id, t_min FROM ivoa.obscore\n"
        "WHERE band_list LIKE '%6%' AND data_rights = 'Public' ORDER BY t_min DESC",
    ),
    (
        "projects-per-band",
        "How many observations each band list has",
        "SELECT band_list, COUNT(*) AS n FROM ivoa.obscore GROUP BY band_list ORDER BY n DESC",
    ),
]


@login_not_required
def examples(request: HttpRequest) -> HttpResponse:
    """DALI examples (XHTML with RDFa): the queries TOPCAT offers in its examples menu."""
    items = "".join(
        f'<div typeof="example" id="{key}" resource="#{key}">'
        f'<h2 property="name">{escape(title)}</h2>'
        f'<pre property="query">{escape(query)}</pre></div>'
        for key, title, query in EXAMPLES
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>TAP examples</title></head>'
        f'<body vocab="http://www.ivoa.net/rdf/examples#"><h1>TAP examples</h1>{items}'
        "</body></html>\n"
    )
    return HttpResponse(document, content_type="application/xhtml+xml; charset=utf-8")


@login_not_required
def availability(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        up, note = True, "The mirror answers queries."
    except DatabaseError:
        up, note = False, "The mirror's database does not answer."
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
        f"<vosi:available>{'true' if up else 'false'}</vosi:available>"
        f"<vosi:note>{note}</vosi:note></vosi:availability>\n"
    )
    return HttpResponse(document, content_type="text/xml; charset=utf-8", status=200 if up else 503)


@login_not_required
def tables(request: HttpRequest) -> HttpResponse:
    try:
        caller(request)
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    schemas: dict[str, list[str]] = {}
    for name, description, columns in catalogue.described_tables():
        parts = [
            f"<table><name>{escape(name)}</name><description>{escape(description)}</description>"
        ]
        for c in columns:
            size = f' arraysize="{escape(c.arraysize)}"' if c.arraysize else ""
            indexed = name == "ivoa.obscore" and c.name in catalogue.INDEXED
            parts.append(
                f"<column><name>{escape(catalogue.published_name(c))}</name>"
                f"<description>{escape(c.description)}</description>"
                + (f"<unit>{escape(c.unit)}</unit>" if c.unit else "")
                + (f"<ucd>{escape(c.ucd)}</ucd>" if c.ucd else "")
                + (f"<utype>{escape(c.utype)}</utype>" if c.utype else "")
                + f'<dataType xsi:type="vs:VOTableType"{size}>{c.datatype}</dataType>'
                + ("<flag>indexed</flag>" if indexed else "")
                + "</column>"
            )
        for target, from_column, target_column in catalogue.foreign_keys(name):
            parts.append(
                f"<foreignKey><targetTable>{target}</targetTable><fkColumn>"
                f"<fromColumn>{from_column}</fromColumn><targetColumn>{target_column}"
                "</targetColumn></fkColumn></foreignKey>"
            )
        parts.append("</table>")
        schemas.setdefault(name.split(".")[0], []).append("".join(parts))
    body = "".join(
        f"<schema><name>{escape(schema)}</name>{''.join(items)}</schema>"
        for schema, items in schemas.items()
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{body}</vosi:tableset>\n'
    )
    return HttpResponse(document, content_type="text/xml; charset=utf-8")


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def sia_query(request: HttpRequest) -> HttpResponse:
    """SIA 2.0 ``/sia2/query``: ObsCore rows for POS, BAND, TIME, ... (see ``vo.sia``)."""
    try:
        caller(request)
        merged: dict[str, list[str]] = {}
        for source in (request.GET, request.POST):
            for key in source:
                merged.setdefault(key, []).extend(source.getlist(key))
        try:
            query = sia.adql_for(merged)
            translation = adql.translate(query, catalogue.tables(), vendor=connection.vendor)
        except (sia.SiaError, adql.AdqlError) as refused:
            raise Refusal(str(refused)) from None
        try:
            result = execute.run(translation, maxrec=maxrec(request))
        except execute.QueryFailed as failed:
            raise Refusal(str(failed)) from None
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    return render(result, "votable")


@login_not_required
def sia_capabilities(request: HttpRequest) -> HttpResponse:
    base = escape(request.build_absolute_uri("/sia2"))
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">'
        '<capability standardID="ivo://ivoa.net/std/SIA#query-2.0">'
        f'<interface xsi:type="vs:ParamHTTP" role="std" version="2.0"><accessURL use="base">'
        f"{base}/query</accessURL></interface></capability>"
        '<capability standardID="ivo://ivoa.net/std/VOSI#capabilities">'
        f'<interface xsi:type="vs:ParamHTTP"><accessURL use="full">{base}/capabilities'
        "</accessURL></interface></capability></vosi:capabilities>\n"
    )
    return HttpResponse(document, content_type="text/xml; charset=utf-8")
