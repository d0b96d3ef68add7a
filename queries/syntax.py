"""ALMA's query syntax, parsed into typed constraint nodes. Pure: no Django, no database.

The grammar is the one ALMA's query form documents (``refdata/docs/alma_query_form_2014_help_and
_tooltips.txt``) plus what people type today:

* numbers: ``5``, ``=5``, ``!=5``, ``<5`` (strict), ``<=5`` (or ``≤``), ``>5``, ``>=5`` (or
  ``≥``), ``1..2`` and ``1 .. 2`` (inclusive), ``!(1..2)``, alternatives ``a|b``, ``null``,
  ``!null``;
* dates: the same operators on ``DD-MM-YYYY`` or ``YYYY-MM-DD``; a bare date is the whole day
  (``=`` and ``..`` include all of it, ``<`` means before it starts, ``>`` after it ends);
* strings, case-insensitive: ``*`` and ``?`` wildcards, ``a|b``, ``!a`` (also ALMA's ``~a`` and
  ``!~a``), ``!(a|b)``, ``"quoted text"`` (``|`` and ``!`` inside quotes are literal), and
  ALMA's exact operators ``=a`` (case-sensitive, wildcards allowed), ``==a`` and ``!=a``
  (case-sensitive, no wildcards);
* positions: ``RA Dec, radius`` in sexagesimal (``12:13:14.0 -00:01:02.1``, ``12h13m14s
  -0d1m2.1s``, ``12 13 14.0 -00 01 02.1``) or degrees; the radius takes units (``30arcsec``,
  ``30"``, ``2'``, ``2arcmin``, ``0.1deg``), a bare number is degrees as in ALMA's form, and
  without a radius the search is 10 arcmin around the position, as astroquery's ``ra_dec`` and
  name-resolver searches are. Ranges ``181..185 >-0.1928`` and ``>12:13:14.0 0..40`` (RA then
  Dec, ``*`` for either) give a box. Several positions may be OR-ed with ``|``;
* bands: ``3``, ``3 6``, ``3|6``, ``3,6``, ``band 7``, ``3..6``, ``!(3|6)`` (whole tokens: band 1
  never matches band 10).

Invariant: every parser returns a node or raises ``QueryInputError`` naming the field and the
accepted syntax, and nothing else, whatever the input (unicode, 10k characters, parentheses,
SQL). Digits are ASCII only; text that cannot be stored as UTF-8 is refused here, so no database
ever sees it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from queries.errors import QueryInputError
from queries.units import datetime_to_mjd

MAX_INPUT_LENGTH = 1000
MAX_ALTERNATIVES = 50  # a|b|c...: enough for any real list, bounded so SQL stays small
MAX_WILDCARDS = 20  # '*' per term: LIKE matching cost grows with them
# ALMA's form documents no default; astroquery searches 10 arcmin around a position given
# without a radius (ra_dec and source_name_resolver), so a permalink means the same there.
DEFAULT_RADIUS_DEG = 10 / 60

NUMERIC_SYNTAX = "5, =5, !=5, <5, <=5, >5, >=5, 1..2, !(1..2), a|b, null, !null"
DATE_SYNTAX = (
    "DD-MM-YYYY or YYYY-MM-DD (a bare date is that whole day) with <, <=, >, >=, a..b, "
    "!(a..b), a|b, null, !null"
)
STRING_SYNTAX = (
    'text (case-insensitive), * and ? wildcards, a|b for either, !a or !(a|b) to exclude, "quoted '
    'text", =Exact (case-sensitive), ==exact without wildcards'
)
POSITION_SYNTAX = (
    "'RA Dec, radius' in sexagesimal (12:13:14.0 -00:01:02.1, 0.05) or degrees "
    "(181.0192 -0.01928, 30arcsec); radius in deg (a bare number), arcmin or ', arcsec or \" "
    "(10 arcmin if omitted); or ranges '181..185 >-0.1928'; several with |"
)
GALACTIC_SYNTAX = (
    "'l b, radius' in degrees (0.0 0.0, 1deg) or sexagesimal degrees; radius in deg (a bare "
    "number), arcmin or ', arcsec or \" (10 arcmin if omitted); or ranges '359..360 -1..1'"
)
BAND_SYNTAX = "ALMA band numbers 1 to 10, e.g. 3, '3 6', 3|6, 3..6 or !(9|10)"


# --- nodes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A numeric interval in storage units; None is unbounded."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True


@dataclass(frozen=True)
class NullTest:
    is_null: bool


@dataclass(frozen=True)
class Term:
    """One alternative. ``negated`` terms never match a missing value (as in SQL and ALMA)."""

    test: Interval | NullTest
    negated: bool = False


@dataclass(frozen=True)
class NumericConstraint:
    """Any of ``terms`` matches (the ``|`` alternatives)."""

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class StringTerm:
    """One text alternative.

    ``pattern`` is the user's text with ``*``/``?`` kept. ``wildcards=False`` (ALMA's ``==``)
    makes them literal. ``anchored`` forces a whole-value match even on fields searched by
    substring (ALMA's ``=`` and ``==``).
    """

    pattern: str
    negated: bool = False
    case_sensitive: bool = False
    wildcards: bool = True
    anchored: bool = False

    @property
    def has_wildcards(self) -> bool:
        return self.wildcards and ("*" in self.pattern or "?" in self.pattern)


@dataclass(frozen=True)
class StringConstraint:
    terms: tuple[StringTerm, ...]  # positive terms OR-ed; negated terms AND-ed


@dataclass(frozen=True)
class Cone:
    ra: float  # longitude: RA, or l when frame is galactic (degrees)
    dec: float  # latitude: Dec, or b (degrees)
    radius: float  # degrees
    frame: str = "icrs"


@dataclass(frozen=True)
class Box:
    ra: NumericConstraint | None  # longitude constraint (degrees)
    dec: NumericConstraint | None  # latitude constraint (degrees)
    frame: str = "icrs"


@dataclass(frozen=True)
class AnyPosition:
    """``pos1 | pos2``: any of the cones or boxes."""

    alternatives: tuple[Cone | Box, ...]


Position = Cone | Box | AnyPosition


@dataclass(frozen=True)
class BandConstraint:
    bands: frozenset[int]
    negated: bool = False


# --- shared helpers --------------------------------------------------------------------------


class _Reject(ValueError):
    """Internal: a part of the input is wrong; ``str()`` says how, in words for the user."""


class _Unbalanced(_Reject):
    """Parentheses that do not pair up."""


def _error(field: str, value: str, message: str, syntax: str, label: str) -> QueryInputError:
    return QueryInputError(field, value, message, syntax, label=label)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Typographic signs people paste from papers and PDFs, folded to the ASCII the grammar uses.
_FOLD = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2032": "'", "\u2033": '"', "\u00a0": " "})


def clean_text(field: str, text: str, syntax: str, label: str) -> str:
    """Length, encodability and control characters: checked before any parsing."""
    text = str(text)
    if len(text) > MAX_INPUT_LENGTH:
        raise _error(
            field, text, f"is too long (at most {MAX_INPUT_LENGTH} characters).", syntax, label
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(field, text, "contains characters that are not text.", syntax, label) from None
    if _CONTROL.search(text):
        raise _error(field, text, "contains control characters.", syntax, label)
    return text.translate(_FOLD).strip()


def _split_top_level(
    text: str, separator: str = "|", *, quotes: bool = True, parens: bool = True
) -> list[str]:
    """Split on ``separator`` outside parentheses (if ``parens``) and double quotes (``quotes``)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"' and quotes:
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(" and parens:
            depth += 1
        elif ch == ")" and parens:
            depth -= 1
            if depth < 0:
                raise _Unbalanced("has a ')' without its '('.")
        elif ch == separator and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if quoted:
        raise _Reject("has an unclosed quote.")
    if depth:
        raise _Unbalanced("has a '(' without its ')'.")
    parts.append(text[start:].strip())
    if len(parts) > MAX_ALTERNATIVES:
        raise _Reject(f"has more than {MAX_ALTERNATIVES} alternatives.")
    if any(not p for p in parts):
        raise _Reject("has an empty alternative around '|'.")
    return parts


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)


def _number(text: str) -> float:
    text = text.strip()
    if not _NUMBER.match(text):
        raise _Reject(f"is not understood: '{text[:30]}' is not a number.")
    value = float(text)
    if not math.isfinite(value):
        raise _Reject(f"is out of range: '{text[:30]}'.")
    return value


ValueParser = Callable[[str], tuple[float, float]]
_OPERATORS = (("<=", "<="), ("≤", "<="), (">=", ">="), ("≥", ">="), ("!=", "!="), ("≠", "!="))
_OPERATORS += (("<", "<"), (">", ">"), ("=", "="))


def _unwrap(text: str) -> str:
    """``(1..2)`` -> ``1..2``: redundant parentheses around a whole term."""
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _term(text: str, value_parser: ValueParser, *, bare_is_day: bool = False) -> Term:
    """One alternative: operators around a value (or a day, ``[start, end)``)."""
    text = _unwrap(text.strip())
    lowered = text.lower()
    if lowered == "null":
        return Term(NullTest(True))
    if lowered in ("!null", "!=null"):
        return Term(NullTest(False))
    if text.startswith("!(") and text.endswith(")"):
        inner = _term(text[2:-1], value_parser, bare_is_day=bare_is_day)
        if inner.negated:
            raise _Reject("negates a negation.")
        return Term(inner.test, negated=True)
    for op, meaning in _OPERATORS:
        if text.startswith(op):
            rest = text[len(op) :].strip()
            if not rest:
                raise _Reject(f"has '{op}' without a value.")
            low, high = value_parser(rest)
            if meaning == "<":
                return Term(Interval(high=low, high_inclusive=False))
            if meaning == "<=":
                return Term(Interval(high=high, high_inclusive=not bare_is_day))
            if meaning == ">":
                return Term(Interval(low=high, low_inclusive=bare_is_day))
            if meaning == ">=":
                return Term(Interval(low=low))
            return Term(_point(low, high, bare_is_day), negated=(meaning == "!="))
    if ".." in text:
        left, _, right = text.partition("..")
        if not left.strip() or not right.strip():
            raise _Reject("has a range with a missing end (write a..b, <b or >a).")
        low, _ = value_parser(left)
        r_low, r_high = value_parser(right)
        high = r_high if bare_is_day else r_low
        if low > high:
            raise _Reject(f"has a range whose start is after its end ('{text[:40]}').")
        return Term(Interval(low=low, high=high, high_inclusive=not bare_is_day))
    low, high = value_parser(text)
    return Term(_point(low, high, bare_is_day))


def _point(low: float, high: float, bare_is_day: bool) -> Interval:
    if bare_is_day:
        return Interval(low=low, high=high, high_inclusive=False)
    return Interval(low=low, high=low)


def _constraint(text: str, value_parser: ValueParser, *, bare_is_day: bool = False):
    terms = [_term(part, value_parser, bare_is_day=bare_is_day) for part in _split_top_level(text)]
    return NumericConstraint(tuple(terms))


def _why(exc: Exception, fallback: str) -> str:
    """The words after the quoted value: 'is ...' as given, other reasons after 'not understood'."""
    reason = str(exc) if isinstance(exc, _Reject) else ""
    if not reason:
        return fallback
    if reason.startswith("is "):
        return reason
    if reason.split(" ", 1)[0] in ("has", "negates", "needs", "constrains", "excludes", "groups"):
        reason = "it " + reason
    return "is not understood: " + reason


# --- numbers and dates -----------------------------------------------------------------------


def parse_numeric(
    field: str, text: str, *, label: str = "", scale: float = 1.0, syntax: str = NUMERIC_SYNTAX
) -> NumericConstraint:
    """Numbers in the form's unit; ``scale`` converts them to storage units."""
    text = clean_text(field, text, syntax, label)

    def value(part: str) -> tuple[float, float]:
        number = _number(part) * scale
        if not math.isfinite(number):
            raise _Reject(f"is out of range: '{part.strip()[:30]}'.")
        return number, number

    try:
        return _constraint(text, value)
    except (ValueError, OverflowError) as exc:
        raise _error(field, text, _why(exc, "is not understood."), syntax, label) from None


_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$", re.ASCII)
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)


def parse_day(text: str) -> date:
    """``DD-MM-YYYY`` (also with / or .) or ISO ``YYYY-MM-DD``; raises ValueError otherwise."""
    text = text.strip()
    match = _DMY.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
    else:
        match = _YMD.match(text)
        if not match:
            raise _Reject(f"is not understood: '{text[:30]}' is not a date.")
        year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise _Reject(f"is not understood: '{text[:30]}' is not a day of the calendar.") from None


def parse_date(
    field: str, text: str, *, label: str = "", syntax: str = DATE_SYNTAX
) -> NumericConstraint:
    """Dates into MJD intervals; a bare date is the whole day [00:00, next 00:00) UTC."""
    text = clean_text(field, text, syntax, label)

    def value(part: str) -> tuple[float, float]:
        start = datetime_to_mjd(parse_day(part))
        return start, start + 1.0

    try:
        return _constraint(text, value, bare_is_day=True)
    except (ValueError, OverflowError) as exc:
        raise _error(
            field, text, _why(exc, "is not a date or date range."), syntax, label
        ) from None


# --- strings ---------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        inner = text[1:-1]
        if '"' not in inner:
            return inner
    if '"' in text:
        raise _Reject('has a quote inside a word; quote whole values: "R Scl".')
    return text


def _string_terms(text: str, *, negated: bool = False) -> list[StringTerm]:
    terms: list[StringTerm] = []
    try:
        parts = _split_top_level(text)
    except _Unbalanced:
        parts = _split_top_level(text, parens=False)  # text such as 'smile :)' is just text
    for part in parts:
        if part.startswith("!(") and part.endswith(")"):
            if negated:
                raise _Reject("negates a negation.")
            terms += _string_terms(part[2:-1].strip(), negated=True)
            continue
        term_negated = negated
        case_sensitive, wildcards, anchored = False, True, False
        if negated and part.startswith(("!=", "!~", "!")):
            raise _Reject("negates a negation.")
        if part.startswith(("!=", "==")):
            term_negated = negated or part.startswith("!")
            case_sensitive, wildcards, anchored = True, False, True
            part = part[2:]
        elif part.startswith(("!~", "~")):
            term_negated = negated or part.startswith("!")
            part = part.lstrip("!")[1:]
        elif part.startswith("="):
            case_sensitive, anchored = True, True
            part = part[1:]
        elif part.startswith("!"):
            term_negated = True
            part = part[1:]
        pattern = _unquote(part.strip())
        if not pattern:
            raise _Reject("has an operator without text.")
        if pattern.startswith("(") and pattern.endswith(")") and "|" in pattern:
            raise _Reject("groups alternatives without '!': write a|b, or !(a|b) to exclude.")
        if wildcards and pattern.count("*") > MAX_WILDCARDS:
            raise _Reject(f"has more than {MAX_WILDCARDS} '*' in one value.")
        if wildcards and not pattern.replace("*", ""):
            pattern = "*"  # '*' or '**': any value
            if term_negated:
                raise _Reject("excludes everything ('!*').")
        terms.append(StringTerm(pattern, term_negated, case_sensitive, wildcards, anchored))
    return terms


def parse_string(
    field: str, text: str, *, label: str = "", syntax: str = STRING_SYNTAX
) -> StringConstraint:
    text = clean_text(field, text, syntax, label)
    try:
        return StringConstraint(tuple(_string_terms(text)))
    except ValueError as exc:
        raise _error(field, text, _why(exc, "is not understood."), syntax, label) from None


# --- positions -------------------------------------------------------------------------------

_RADIUS_UNITS = {
    "deg": 1.0,
    "degree": 1.0,
    "degrees": 1.0,
    "d": 1.0,
    "°": 1.0,
    "arcmin": 1 / 60,
    "amin": 1 / 60,
    "'": 1 / 60,
    "arcsec": 1 / 3600,
    "asec": 1 / 3600,
    '"': 1 / 3600,
    "''": 1 / 3600,
}
_RADIUS = re.compile(
    r"^([+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
    r"(degrees|degree|deg|d|°|arcmin|amin|''|'|arcsec|asec|\")?$",
    re.I | re.ASCII,
)


def parse_radius(text: str) -> float:
    """``0.05``, ``30arcsec``, ``30"``, ``2'``, ``2arcmin``, ``0.1deg`` -> degrees (0, 180]."""
    match = _RADIUS.match(text.strip())
    if not match:
        raise _Reject(
            f"is not understood: radius '{text.strip()[:30]}' is not a number with deg, arcmin "
            "or arcsec."
        )
    radius = float(match.group(1)) * _RADIUS_UNITS[(match.group(2) or "deg").lower()]
    if not 0 < radius <= 180:
        raise _Reject("has a radius that is not above 0 and at most 180 degrees.")
    return radius


_SEXAGESIMAL = re.compile(
    r"^([+-]?)(\d{1,3})[:hd°\s](\d{1,2})[:m'\s](\d{1,2}(?:\.\d*)?)s?\"?$", re.I | re.ASCII
)


def parse_angle(text: str, *, hours: bool) -> float:
    """An angle in degrees; sexagesimal is hours when ``hours`` (RA), else degrees."""
    text = text.strip()
    if _NUMBER.match(text.rstrip("d°")):
        return _number(text.rstrip("d°"))
    match = _SEXAGESIMAL.match(text)
    if not match:
        raise _Reject(
            f"is not understood: '{text[:30]}' is not an angle in degrees or sexagesimal."
        )
    sign = -1.0 if match.group(1) == "-" else 1.0
    a, b, c = float(match.group(2)), float(match.group(3)), float(match.group(4))
    if b >= 60 or c >= 60:
        raise _Reject(f"has minutes or seconds of 60 or more ('{text[:30]}').")
    value = sign * (a + b / 60 + c / 3600)
    return value * 15 if hours else value


def _is_hours(text: str) -> bool:
    return bool(re.search(r"[:hH]", text))


def _split_coordinates(text: str) -> tuple[str, str]:
    parts = text.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 6:  # 12 13 14.0 -00 01 02.1
        return ":".join(parts[:3]), ":".join(parts[3:])
    raise _Reject("needs two coordinates before the comma.")


def _is_range(text: str) -> bool:
    return bool(re.search(r"\.\.|(^|\s)[<>!=≤≥*]", text))


def _angle_values(hours_if_sexagesimal: bool) -> ValueParser:
    def value(part: str) -> tuple[float, float]:
        angle = parse_angle(part, hours=hours_if_sexagesimal and _is_hours(part))
        return angle, angle

    return value


def _parse_box(text: str, frame: str) -> Box:
    parts = text.replace(" ..", "..").replace(".. ", "..").split()
    if len(parts) != 2:
        raise _Reject("ranges need two parts, longitude then latitude: '181..185 >-0.1928'.")
    lon = (
        None
        if parts[0] == "*"
        else _constraint(parts[0], _angle_values(hours_if_sexagesimal=frame == "icrs"))
    )
    lat = None if parts[1] == "*" else _constraint(parts[1], _angle_values(False))
    if lon is None and lat is None:
        raise _Reject("constrains neither coordinate.")
    return Box(lon, lat, frame)


def _parse_cone(text: str, frame: str) -> Cone:
    pieces = [p.strip() for p in text.split(",")]
    if len(pieces) == 3 or (len(pieces) == 2 and len(pieces[0].split()) == 1):
        pieces = [f"{pieces[0]} {pieces[1]}", *pieces[2:]]  # 'RA, Dec[, radius]'
    if len(pieces) > 2:
        raise _Reject("has too many commas: write 'RA Dec, radius'.")
    lon_text, lat_text = _split_coordinates(pieces[0])
    lon = parse_angle(lon_text, hours=frame == "icrs" and _is_hours(lon_text))
    lat = parse_angle(lat_text, hours=False)
    radius = parse_radius(pieces[1]) if len(pieces) == 2 else DEFAULT_RADIUS_DEG
    lon_name, lat_name = ("l", "b") if frame == "galactic" else ("RA", "Dec")
    if not 0 <= lon < 360 or not -90 <= lat <= 90:
        raise _Reject(f"is outside the sky ({lon_name} 0..360, {lat_name} -90..90).")
    return Cone(lon, lat, radius, frame)


def parse_position(
    field: str, text: str, *, label: str = "", frame: str = "icrs", syntax: str = ""
) -> Position:
    syntax = syntax or (GALACTIC_SYNTAX if frame == "galactic" else POSITION_SYNTAX)
    text = clean_text(field, text, syntax, label)
    try:
        alternatives = tuple(
            _parse_box(part, frame) if _is_range(part) else _parse_cone(part, frame)
            for part in _split_top_level(text, quotes=False)
        )
    except (ValueError, OverflowError) as exc:
        raise _error(field, text, _why(exc, "is not a position."), syntax, label) from None
    return alternatives[0] if len(alternatives) == 1 else AnyPosition(alternatives)


# --- bands -----------------------------------------------------------------------------------

_BAND_RANGE = re.compile(r"^([0-9]{1,2})\.\.([0-9]{1,2})$")


def parse_bands(
    field: str, text: str, *, label: str = "", syntax: str = BAND_SYNTAX
) -> BandConstraint:
    text = clean_text(field, text, syntax, label)
    negated = text.startswith("!")
    body = text[1:].strip() if negated else text
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    body = re.sub(r"(?i)\bband\s*", "", body).replace(" .. ", "..")
    bands: set[int] = set()
    for token in (t for t in re.split(r"[\s,|]+", body) if t):
        span = _BAND_RANGE.match(token)
        if span and int(span.group(1)) <= int(span.group(2)):
            low, high = int(span.group(1)), int(span.group(2))
        elif re.fullmatch(r"[0-9]{1,2}", token):
            low = high = int(token)
        else:
            raise _error(field, text, f"names no ALMA band ('{token[:20]}').", syntax, label)
        if not 1 <= low <= high <= 10:
            raise _error(field, text, f"names no ALMA band ('{token[:20]}').", syntax, label)
        bands.update(range(low, high + 1))
    if not bands:
        raise _error(field, text, "names no band.", syntax, label)
    return BandConstraint(frozenset(bands), negated)
