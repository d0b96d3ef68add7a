"""The search form's fields as HTML, their fixed parts built once per process.

The form has 33 fields in ALMA's groups; written out by the template engine, label, unit,
widget, tooltip and listed values were some 500 template nodes per page, most of the page's
rendering once the result rows came from ``queries.tables``. What a field shows whatever the
request is escaped once into the HTML before and after its value; a page adds the escaped value
and the field's error message. The markup is the one ``templates/queries/search.html`` had (ids
``id_<name>`` and ``error_<name>``, which the tests and the browser tests look for).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from html import escape

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from queries.fields import CATALOGUE, FieldSpec

YES_NO = ("yes", "no")


@dataclass(frozen=True)
class FormField:
    name: str
    head: str  # safe HTML up to the value
    tail: str  # safe HTML after the value, up to the error
    yes_no: bool

    def html(self, value: str, error: str | None) -> SafeString:
        if not value and not error:  # most of a page's 33 fields
            return self.blank
        return self._html(value, error)

    @cached_property
    def blank(self) -> SafeString:
        """The field without a value or an error, written once per process."""
        return self._html("", None)

    def _html(self, value: str, error: str | None) -> SafeString:
        if self.yes_no:
            options = "".join(
                f'<option value="{v}"{" selected" if value == v else ""}>{v}</option>'
                for v in YES_NO
            )
            widget = f'<option value="">any</option>{options}'
        else:
            widget = escape(value)
        css = "field has-error" if error else "field"
        message = (
            format_html('<ul class="errorlist" id="error_{}"><li>{}</li></ul>', self.name, error)
            if error
            else ""
        )
        return mark_safe(f'<div class="{css}">{self.head}{widget}{self.tail}{message}</div>')


def _field(f: FieldSpec) -> FormField:
    label = format_html(
        '<label for="id_{}">{}{}</label>',
        f.name,
        f.label,
        format_html(' <span class="muted">[{}]</span>', f.unit) if f.unit else "",
    )
    if f.kind.name == "yesno":
        head = format_html('{}<select name="{}" id="id_{}">', label, f.name, f.name)
        return FormField(f.name, head, "</select>", yes_no=True)
    if f.kind.name == "choice":
        head = format_html(
            '{}<input type="text" name="{}" id="id_{}" value="', label, f.name, f.name
        )
        tail = format_html(
            '" list="list_{}"><datalist id="list_{}">{}</datalist>',
            f.name,
            f.name,
            format_html_join("", '<option value="{}">', ((c,) for c in f.choices)),
        )
        return FormField(f.name, head, tail, yes_no=False)
    head = format_html('{}<input type="text" name="{}" id="id_{}" value="', label, f.name, f.name)
    tail = format_html('" placeholder="{}" title="{}">', f.placeholder, f.syntax)
    return FormField(f.name, head, tail, yes_no=False)


@cache
def _fields() -> tuple[tuple[str, tuple[FormField, ...]], ...]:
    return tuple((group, tuple(_field(f) for f in fields)) for group, fields in CATALOGUE.items())


@cache
def _by_name() -> dict[str, FormField]:
    return {f.name: f for _, fields in _fields() for f in fields}


# The fields most searches use, always in view on one line; the rest wait in their groups.
COMMON = ("source_name_resolver", "ra_dec", "band_list", "frequency", "line", "redshift",
          "project_code")  # fmt: skip


@dataclass(frozen=True)
class CompactForm:
    """The form as the page lays it out: the common fields, then each group of the others,
    open when one of its fields has a value or an error (closed groups remember their state in
    the browser)."""

    common: list[SafeString]
    groups: list[tuple[str, list[SafeString], bool]]

    @property
    def any_open(self) -> bool:
        return any(is_open for _, _, is_open in self.groups)

    @property
    def common_html(self) -> SafeString:
        """The common fields, one after the other (each already safe HTML)."""
        return mark_safe("".join(self.common))

    @property
    def groups_html(self) -> SafeString:
        """Each group as a ``<details>`` (``data-remember`` keyed by the group's slug, open
        when a field has a value or an error) holding its fields; the template's loop over
        them cost more than the fields themselves. A closed group has only blank fields, so
        its HTML is written once per process (``_closed_group``)."""
        return mark_safe(
            "".join(
                _group_html(group, fields, True) if is_open else _closed_group(group, fields)
                for group, fields, is_open in self.groups
            )
        )


def _group_html(group: str, fields: list[SafeString], is_open: bool) -> str:
    return (
        f'<details class="field-group" data-remember="search-group-{_slug(group)}"'
        f"{' open data-has-value' if is_open else ''}><summary>{escape(group)}</summary>"
        f'<fieldset><legend class="visually-hidden">{escape(group)}</legend>'
        f"{''.join(fields)}</fieldset></details>"
    )


_closed: dict[str, str] = {}


def _closed_group(group: str, fields: list[SafeString]) -> str:
    """A closed group's HTML: its fields are blank (``FormField.blank``), the same on every
    page, so it is joined once per process."""
    if group not in _closed:
        _closed[group] = _group_html(group, fields, False)
    return _closed[group]


@cache
def _slug(group: str) -> str:
    return escape(slugify(group))


def compact_form(values: dict, errors: dict) -> CompactForm:
    by_name = _by_name()
    common = [by_name[n].html(values.get(n, ""), errors.get(n)) for n in COMMON]
    groups = []
    for group, fields in _fields():
        rest = [f for f in fields if f.name not in COMMON]
        if rest:
            groups.append(
                (
                    group,
                    [f.html(values.get(f.name, ""), errors.get(f.name)) for f in rest],
                    any(values.get(f.name) or errors.get(f.name) for f in rest),
                )
            )
    return CompactForm(common, groups)
