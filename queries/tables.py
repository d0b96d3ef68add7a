"""The result tables' rows as HTML, built once per page in Python.

A result page shows 50 rows of up to 30 columns. Rendered cell by cell by the template engine
that was about 25,000 variable look-ups and filter calls for a page of 25 rows, three quarters of
the page's server time (issue 13). Here each row is one ``format_html`` of values already
formatted for display: every value goes through ``conditional_escape`` (``format_html`` escapes
its arguments), so a source named ``<script>`` reaches the browser as text, exactly as the
template's autoescape would have written it. The raw rows, the hottest loop, call
``html.escape`` directly: Django's ``escape`` is ``html.escape`` behind a lazy-string wrapper
and a SafeString, which cost more than the escaping. The partial (``partials/results.html``)
keeps the page structure, the header and the forms; only the repeated rows come from here.

Links: the project and member OUS addresses are ``reverse()``-d once per page with a marker
and the marker replaced by each row's value, quoted as ``reverse`` quotes it (a test holds the
two equal), rather than resolving the URL patterns 100 times per page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from html import escape as html_escape
from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe

from queries import columns as cols
from queries.fields import ParsedQuery
from queries.filters import observation_filter
from queries.selectors import KnownMatches, ProjectRow, position_matches, shorten
from queries.units import display_scale

# The characters ``django.urls.reverse`` leaves unquoted in a path (RFC 3986 sub-delimiters
# plus "/~:@"), so ``url_maker`` writes the same address.
_SAFE_IN_PATH = "!$&'()*+,;=/~:@"
_MARKER = "__value__"
TITLE_CHARS = 70


def url_maker(route: str) -> Callable[[str], str]:
    """``reverse(route, args=[value])`` for many values at the cost of one ``reverse`` per
    process (per URLconf and script prefix the portal is mounted under)."""
    prefix, suffix = _url_parts(route, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    return lambda value: prefix + quote(value, safe=_SAFE_IN_PATH) + suffix


@lru_cache(maxsize=64)
def _url_parts(route: str, urlconf: object, script_prefix: str) -> tuple[str, str]:
    """What ``reverse`` writes before and after the route's argument; ``script_prefix`` is
    part of the key because ``reverse`` reads it."""
    prefix, _, suffix = reverse(route, urlconf=urlconf, args=[_MARKER]).partition(_MARKER)
    return prefix, suffix


def _whole(value: float) -> str:
    """A non-negative number rounded half up to a whole one (``floatformat:0``)."""
    return str(math.floor(value + 0.5))


def target_labels(parsed: ParsedQuery, obs_ids: list[str]) -> dict[str, str] | None:
    """The ``target`` column of the shown rows when a field of the search labels the rows it
    matched (a target list: ``kinds.Targets.row_labels``), else None (no column). Asked for
    the page's rows only, in one query, so the page costs the same whatever the list's size."""
    for spec, node in parsed.items():
        labels = getattr(spec.kind, "row_labels", None)
        if labels is not None:
            return labels(spec, node, obs_ids)
    return None


def known_count(parsed: ParsedQuery) -> int | None:
    """The number of matching observations when a field of the search keeps count of its own
    matches and can apply the rest of the search to them (a target list alone or with a band
    list: ``kinds.Targets.count``), else None (count them). Counting a list's 100,000 matches
    through the mirror took ~90 ms on 1M rows; with band 6, 300-500 ms."""
    for spec, node in parsed.items():
        count = getattr(spec.kind, "count", None)
        if count is not None:
            return count(spec, node, _others(parsed, spec.name))
    return None


def known_matches(parsed: ParsedQuery) -> KnownMatches | None:
    """The project view's reads from a field that keeps its own matches (a target list:
    ``kinds.Targets.project_matches``) when it can answer the whole search, else from the
    observed positions for a search of cones and bands (``selectors.position_matches``), else
    None (the project view reduces the matches through the mirror)."""
    for spec, node in parsed.items():
        known = getattr(spec.kind, "project_matches", None)
        if known is not None:
            return known(spec, node, _others(parsed, spec.name))
    return position_matches(parsed)


def _others(parsed: ParsedQuery, name: str) -> ParsedQuery:
    """The search without its field ``name``."""
    return ParsedQuery({n: value for n, value in parsed.constraints.items() if n != name})


def project_target_labels(parsed: ParsedQuery, codes: list[str]) -> dict[str, str] | None:
    """The project view's ``target`` column for the shown projects (code -> labels), when a
    field of the search labels the rows it matched (``kinds.Targets.project_labels``), else
    None (no column). The field is given the rest of the search as a filter, so it reads only
    the rows of these projects."""
    for spec, node in parsed.items():
        labels = getattr(spec.kind, "project_labels", None)
        if labels is not None:
            return labels(spec, node, observation_filter(_others(parsed, spec.name)), codes)
    return None


def raw_head(
    columns: Iterable[cols.Column],
    *,
    sort: str,
    search_url: str,
    sort_links: dict[str, str],
    target: bool = False,
) -> SafeString:
    """The raw table's header cells: each a sort link (htmx and plain), with ▲/▼ on the
    column the page is sorted by; first the ``target`` column when the search has one."""

    def arrow(name: str) -> str:
        return " ▲" if sort == name else " ▼" if sort == f"-{name}" else ""

    def th(c: cols.Column) -> str:
        link = html_escape(search_url + sort_links[c.name])
        css, label = _head_parts(c)
        return (
            f'<th class="{css}"><a href="{link}" hx-get="{link}" '
            f'hx-push-url="true" {label}{arrow(c.name)}</a></th>'
        )

    # every text through html.escape, as format_html would (one call per cell, not seven)
    head = "".join([th(c) for c in columns])
    return ascii_html(('<th scope="col">Target</th>' if target else "") + head)


@lru_cache(maxsize=64)
def _head_parts(c: cols.Column) -> tuple[str, str]:
    """A header cell's class and its escaped ``data-sort`` and label (with the unit): the same
    on every page."""
    unit = html_escape(f" [{c.unit}]") if c.unit else ""
    return (
        "num" if c.numeric else "",
        f'data-sort="{html_escape(c.name)}">{html_escape(c.label)}{unit}',
    )


def column_chooser(chosen: Iterable[str]) -> SafeString:
    """The column chooser's ticks, every column in ``columns.COLUMNS`` order, the chosen ticked.

    Written by the template's loop it was about 1 ms of a page's CPU (30 columns, four nodes
    each); the labels are ours but go through ``escape`` all the same, once per choice of
    columns (``_chooser``).
    """
    return _chooser(frozenset(chosen))


@lru_cache(maxsize=256)
def _chooser(ticked: frozenset[str]) -> SafeString:
    return mark_safe(
        "".join(
            f'<label class="inline"><input type="checkbox" name="columns" '
            f'value="{html_escape(c.name)}" form="columns-form"'
            f"{' checked' if c.name in ticked else ''}> {html_escape(c.label)}</label>"
            for c in cols.COLUMNS
        )
    )


def ascii_html(html: str) -> SafeString:
    """``html`` (already escaped) with each character beyond ASCII written as a numeric
    character reference (``…`` as ``&#8230;``), which the browser shows as the character.

    One such character (an abstract's ellipsis, a sort arrow) made the whole page a string
    of two bytes a character: every join of the template's nested blocks widened the
    ~60 kB of rows again and the response's UTF-8 encoding went character by character,
    about a third of a 50-row page's rendering. Rows and templates in ASCII keep the page
    one byte a character end to end.
    """
    if not html.isascii():
        html = html.encode("ascii", "xmlcharrefreplace").decode("ascii")
    return mark_safe(html)


def escape_text(text: str) -> str:
    """``html.escape(text)``: the same string, but a text without any of the five characters
    it replaces (most of a page's: codes, uids, names, bands) is returned as it is after one
    regular-expression test, a third of the cost of ``html.escape``'s five replaces."""
    return html_escape(text) if _NEEDS_ESCAPE(text) else text


_NEEDS_ESCAPE = re.compile("[&<>\"']").search


def _memo(write: Callable[[object], str]) -> Callable[[object], str]:
    """``write``, remembering each value's cell for one page: a page's rows share most of
    their bands, sources, member OUSs and dates, and a dictionary look-up costs less than
    formatting and escaping the value again. A column's values all come from one database
    type, so values equal as keys (``1`` and ``1.0``) never meet in one cache."""
    cells: dict[object, str] = {}

    def cell(value: object) -> str:
        try:
            return cells[value]
        except KeyError:
            written = cells[value] = write(value)
            return written
        except TypeError:  # an unhashable value (a list): written every time
            return write(value)

    return cell


def _remembered(column: cols.Column) -> bool:
    """Whether a column's cells are worth remembering for a page (``_memo``): texts and dates
    repeat from row to row; positions and frequencies mostly differ."""
    return not column.numeric or column.name in _REPEATED_NUMBERS


_REPEATED_NUMBERS = {"obs_release_date", "t_exptime", "s_fov", "pwv"}


def _cell_writer(column: cols.Column, scale: float) -> Callable[[object], str]:
    """A function from a stored value to its ``<td>``, chosen once per column and page.

    Text goes through ``html.escape`` (``escape_text``). A numeric column's text is written as
    its formatter gives it: ``columns`` formats numbers and dates only (digits, signs,
    ``.:``, a space, ``nan``/``inf``, "not set"; a test holds every numeric column to that),
    and escaping those ~450 cells of a page cost more than all the rest of its rows.
    """
    show = column.show
    digits = getattr(show, "digits", None)  # columns._fixed: the cell in one format call
    if column.numeric and digits is not None:
        cell = ('<td class="num">{:.' + str(digits) + "f}</td>").format
        if scale != 1.0:
            return lambda v: '<td class="num"></td>' if v is None else cell(float(v) / scale)
        return lambda v: '<td class="num"></td>' if v is None else cell(v)
    if column.numeric:
        if scale != 1.0:
            return lambda v: (
                '<td class="num">' + show(None if v is None else float(v) / scale) + "</td>"
            )
        return lambda v: '<td class="num">' + show(v) + "</td>"
    if scale != 1.0:
        return lambda v: (
            '<td class="">' + escape_text(show(None if v is None else float(v) / scale)) + "</td>"
        )
    return lambda v: '<td class="">' + escape_text(show(v)) + "</td>"


def raw_body(
    rows: list[dict],
    columns: list[cols.Column],
    projects: dict[str, dict],
    targets: dict[str, str] | None = None,
) -> SafeString:
    """One ``<tr data-obs>`` per observation: the member OUS checkbox, then the chosen columns.

    ``projects`` maps a code to its title and its abstract already cut to
    ``selectors.ABSTRACT_CHARS`` (``selectors.observations_page``), shown when hovering over the
    project code. The hottest loop of the page (50 rows x up to 30 cells), so each column's
    cell writer is chosen once (``_cell_writer``) and remembers the cells it wrote (``_memo``),
    and cells are string concatenations with every value through ``html.escape``
    (``escape_text``; what ``format_html`` does to each argument, without its wrappers: 0.8 ms
    for 50 rows x 11 columns against 3.5 ms with ``format_html`` per cell, the same HTML).
    ``targets`` (``target_labels``) adds the ``target`` cell after the checkbox.
    """
    project_url, mous_url = url_maker("queries:project"), url_maker("queries:mous")
    escape = escape_text

    def project_cell(value: object) -> str:
        if not value:
            return plain["proposal_id"](value)
        project = projects.get(value, {})
        return (
            f'<td class=""><a href="{escape(project_url(value))}" '
            f'title="{escape(project.get("title", ""))}&#10;&#10;'
            f'{escape(project.get("abstract_short", ""))}" class="abstract-hover">'
            f"{escape(value)}</a></td>"
        )

    def mous_cell(value: object) -> str:
        if not value:
            return plain["member_ous_uid"](value)
        return f'<td class=""><a href="{escape(mous_url(value))}">{escape(value)}</a></td>'

    plain = {c.name: _cell_writer(c, display_scale(c.name)) for c in columns}
    linked = {"proposal_id": project_cell, "member_ous_uid": mous_cell}
    # Numbers mostly differ from row to row (positions, frequencies): written, not remembered.
    writers = [
        (c.name, _memo(linked.get(c.name, plain[c.name])) if _remembered(c) else plain[c.name])
        for c in columns
    ]

    @_memo
    def tick(mous: object) -> str:  # the member OUS checkbox
        mous = escape(str(mous))
        return (
            f'"><td><input type="checkbox" name="mous" value="{mous}" '
            f'aria-label="Tick member OUS {mous}"></td>'
        )

    def target(obs_id: object) -> str:
        return f'<td class="target">{escape(str(targets.get(obs_id, "")))}</td>'

    def tr(row: dict) -> str:
        return (
            '<tr data-obs="'
            + escape(str(row["obs_id"]))
            + tick(row["member_ous_uid"])
            + ("" if targets is None else target(row["obs_id"]))
            + "".join([write(row[name]) for name, write in writers])
            + "</tr>"
        )

    return ascii_html("\n".join([tr(row) for row in rows]))


def project_body(rows: list[ProjectRow], targets: dict[str, str] | None = None) -> SafeString:
    """One ``<tr>`` per project: checkbox, code (abstract on hover), title, PI, bands, counts,
    integration, release status and the next release date; every text through ``escape``.
    ``targets`` (``project_target_labels``) adds the ``target`` cell after the checkbox."""
    project_url = url_maker("queries:project")

    def target(p: ProjectRow) -> str:
        if targets is None:
            return ""
        return f'<td class="target">{escape(targets.get(p.code, ""))}</td>'

    def escape(value: object) -> str:
        return escape_text(str(value))

    def next_release(p: ProjectRow) -> str:
        if p.next_release is not None:
            return p.next_release.strftime("%Y-%m-%d")
        return "not set" if p.placeholder_release else ""

    def tr(p: ProjectRow) -> str:
        code, status = escape(p.code), escape(p.status)
        return (
            f'<tr><td><input type="checkbox" name="project" value="{code}" '
            f'aria-label="Tick project {code}"></td>'
            + target(p)
            + f'<td><a href="{escape(project_url(p.code))}" title="{escape(p.abstract)}">{code}'
            f"</a></td><td>{escape(shorten(p.title, TITLE_CHARS))}</td>"
            f"<td>{escape(p.pi_name)}</td><td>{' '.join(str(b) for b in p.bands)}</td>"
            f'<td class="num">{p.n_mous}</td><td class="num">{p.n_sources}</td>'
            f'<td class="num">{_whole(p.integration)}</td>'
            f'<td><span class="badge {status}">{status}</span></td>'
            f"<td>{next_release(p)}</td></tr>"
        )

    # every text above went through escape(); numbers and dates are ours
    return ascii_html("\n".join(tr(p) for p in rows))
