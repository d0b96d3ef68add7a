"""ALMA's query syntax, parsed into typed constraint nodes. Pure: no Django, no database.

The grammar is the one ALMA's query form documents (``refdata/docs/alma_query_form_2014_help_and
_tooltips.txt``) plus what people type today:

* numbers: ``5``, ``=5``, ``!=5``, ``<5`` (strict), ``<=5``, ``>5``, ``>=5``, ``1..2``
  (inclusive), ``!(1..2)``, alternatives ``a|b``, ``null``, ``!null``;
* dates: the same operators on ``DD-MM-YYYY`` or ``YYYY-MM-DD``; a bare date is the whole day;
* strings: ``*`` and ``?`` wildcards, ``a|b``, ``!a``; case-insensitive;
* positions: ``RA Dec, radius`` in sexagesimal or degrees, the radius with units (``30arcsec``,
  ``30"``, ``2'``, ``0.1deg``; a bare number is degrees, as in ALMA's form), or ranges
  ``181..185 >-0.1928``;
* bands: ``3``, ``3 6``, ``3|6``, ``3,6`` (whole tokens: band 1 never matches band 10).

Every parser raises ``QueryInputError`` naming the field and the accepted syntax and nothing else,
whatever the input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from queries.errors import QueryInputError

MAX_INPUT_LENGTH = 1000
MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
DEFAULT_RADIUS_DEG = 10 / 60  # ALMA's form searches 10 arcmin around a position given alone

NUMERIC_SYNTAX = "5, =5, !=5, <5, <=5, >5, >=5, 1..2, !(1..2), a|b, null, !null"
DATE_SYNTAX = (
    "DD-MM-YYYY or YYYY-MM-DD with the numeric operators, e.g. >01-01-2019, "
    "2019-01-01..2019-06-30, !null"
)
STRING_SYNTAX = "text, * and ? wildcards, a|b for either, !a to exclude"
POSITION_SYNTAX = (
    "'RA Dec, radius' in sexagesimal (12:13:14.0 -00:01:02.1, 0.05) or degrees "
    "(181.0192 -0.01928, 30arcsec); radius units deg (default), arcmin or ', "
    "arcsec or \"; or ranges '181..185 >-0.1928'"
)
BAND_SYNTAX = "ALMA band numbers 1 to 10, e.g. 3, '3 6' or 3|6"


@dataclass(frozen=True)
class Interval:
    """A numeric interval; None is unbounded."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, value: float) -> bool:
        if self.low is not None and (
            value < self.low or (value == self.low and not self.low_inclusive)
        ):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not self.high_inclusive))
        )


@dataclass(frozen=True)
class NullTest:
    is_null: bool


@dataclass(frozen=True)
class Term:
    test: Interval | NullTest
    negated: bool = False


@dataclass(frozen=True)
class NumericConstraint:
    """Any of ``terms`` matches (the ``|`` alternatives)."""

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class StringTerm:
    pattern: str  # the user's text, wildcards * and ? kept
    negated: bool = False

    @property
    def has_wildcards(self) -> bool:
        return "*" in self.pattern or "?" in self.pattern


@dataclass(frozen=True)
class StringConstraint:
    terms: tuple[StringTerm, ...]  # positive terms OR-ed; negated terms AND-ed


@dataclass(frozen=True)
class Cone:
    ra: float
    dec: float
    radius: float  # degrees
    frame: str = "icrs"


@dataclass(frozen=True)
class Box:
    ra: NumericConstraint | None
    dec: NumericConstraint | None
    frame: str = "icrs"


@dataclass(frozen=True)
class BandConstraint:
    bands: frozenset[int]
    negated: bool = False


def _error(field: str, value: str, message: str, syntax: str, label: str) -> QueryInputError:
    return QueryInputError(field, value, message, syntax, label=label)


def _check_length(field: str, text: str, syntax: str, label: str) -> str:
    if len(text) > MAX_INPUT_LENGTH:
        raise _error(
            field, text, f"is too long (at most {MAX_INPUT_LENGTH} characters).", syntax, label
        )
    return text.strip()


def _split_alternatives(text: str) -> list[str]:
    parts = [p.strip() for p in text.split("|")]
    return parts


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(text: str) -> float:
    text = text.strip()
    if not _NUMBER.match(text):
        raise ValueError(text)
    value = float(text)
    if math.isinf(value) or math.isnan(value):
        raise ValueError(text)
    return value


def _term(text: str, value_parser, *, bare_is_day: bool = False) -> Term:
    """One alternative: operators around a value parsed by ``value_parser``."""
    text = text.strip()
    lowered = text.lower()
    if lowered == "null":
        return Term(NullTest(True))
    if lowered == "!null":
        return Term(NullTest(False))
    if text.startswith("!(") and text.endswith(")"):
        inner = _term(text[2:-1], value_parser, bare_is_day=bare_is_day)
        if inner.negated:
            raise ValueError(text)
        return Term(inner.test, negated=True)
    for op in ("<=", ">=", "!=", "<", ">", "="):
        if text.startswith(op):
            rest = text[len(op) :].strip()
            low, high = value_parser(rest)  # a value may be a whole day: [start, end)
            if op == "<":
                return Term(Interval(high=low, high_inclusive=False))
            if op == "<=":
                return Term(Interval(high=high, high_inclusive=not bare_is_day))
            if op == ">":
                return Term(Interval(low=high, low_inclusive=bare_is_day))
            if op == ">=":
                return Term(Interval(low=low))
            interval = _point(low, high, bare_is_day)
            return Term(interval, negated=(op == "!="))
    if ".." in text:
        left, _, right = text.partition("..")
        if not left.strip() or not right.strip():
            raise ValueError(text)
        low, _ = value_parser(left)
        r_low, r_high = value_parser(right)
        high = r_high if bare_is_day else r_low
        if low > high:
            raise ValueError("range")
        return Term(Interval(low=low, high=high, high_inclusive=not bare_is_day))
    low, high = value_parser(text)
    return Term(_point(low, high, bare_is_day))


def _point(low: float, high: float, bare_is_day: bool) -> Interval:
    if bare_is_day:
        return Interval(low=low, high=high, high_inclusive=False)
    return Interval(low=low, high=low)


def parse_numeric(
    field: str, text: str, *, label: str = "", scale: float = 1.0, syntax: str = NUMERIC_SYNTAX
) -> NumericConstraint:
    """Numbers in the form's unit; ``scale`` converts them to storage units."""
    text = _check_length(field, text, syntax, label)

    def value(part: str) -> tuple[float, float]:
        number = _number(part) * scale
        return number, number

    terms = []
    for alternative in _split_alternatives(text):
        if not alternative:
            raise _error(field, text, "has an empty alternative around '|'.", syntax, label)
        try:
            terms.append(_term(alternative, value))
        except ValueError:
            raise _error(
                field, text, f"is not understood ('{alternative[:40]}').", syntax, label
            ) from None
    return NumericConstraint(tuple(terms))


_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_day(text: str) -> date:
    text = text.strip()
    match = _DMY.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
    else:
        match = _YMD.match(text)
        if not match:
            raise ValueError(text)
        year, month, day = (int(g) for g in match.groups())
    return date(year, month, day)


def day_to_mjd(day: date) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (start - MJD_EPOCH) / timedelta(days=1)


def parse_date(field: str, text: str, *, label: str = "") -> NumericConstraint:
    """Dates into MJD intervals; a bare date is the whole day [00:00, next 00:00)."""
    text = _check_length(field, text, DATE_SYNTAX, label)

    def value(part: str) -> tuple[float, float]:
        start = day_to_mjd(parse_day(part))
        return start, start + 1.0

    terms = []
    for alternative in _split_alternatives(text):
        try:
            terms.append(_term(alternative, value, bare_is_day=True))
        except (ValueError, OverflowError):
            raise _error(
                field,
                text,
                f"is not a date or date range ('{alternative[:40]}').",
                DATE_SYNTAX,
                label,
            ) from None
    return NumericConstraint(tuple(terms))


_SAFE_STRING = re.compile(r"^[^\x00-\x08\x0b-\x1f]*$")


def parse_string(field: str, text: str, *, label: str = "") -> StringConstraint:
    text = _check_length(field, text, STRING_SYNTAX, label)
    if not _SAFE_STRING.match(text):
        raise _error(field, text, "contains control characters.", STRING_SYNTAX, label)
    terms = []
    for alternative in _split_alternatives(text):
        negated = alternative.startswith("!")
        pattern = alternative[1:].strip() if negated else alternative
        if not pattern or not pattern.strip("*?"):
            if pattern and not negated:  # '*' alone: anything
                terms.append(StringTerm("*"))
                continue
            raise _error(field, text, "has an empty alternative.", STRING_SYNTAX, label)
        terms.append(StringTerm(pattern, negated))
    return StringConstraint(tuple(terms))


_RADIUS = re.compile(
    r"^([+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
    r"(deg|d|°|arcmin|amin|'|arcsec|asec|\"|'')?$",
    re.I,
)


def parse_radius(text: str) -> float:
    match = _RADIUS.match(text.strip())
    if not match:
        raise ValueError(text)
    number = float(match.group(1))
    unit = (match.group(2) or "deg").lower()
    factor = {
        "deg": 1.0,
        "d": 1.0,
        "°": 1.0,
        "arcmin": 1 / 60,
        "amin": 1 / 60,
        "'": 1 / 60,
        "arcsec": 1 / 3600,
        "asec": 1 / 3600,
        '"': 1 / 3600,
        "''": 1 / 3600,
    }[unit]
    radius = number * factor
    if not 0 < radius <= 180:
        raise ValueError(text)
    return radius


_SEXAGESIMAL = re.compile(
    r"^([+-]?)(\d{1,3})[:hd\s°](\d{1,2})[:m'\s](\d{1,2}(?:\.\d*)?)s?\"?$", re.I
)


def parse_angle(text: str, *, hours: bool) -> float:
    """An RA (``hours=True``: sexagesimal is hours) or Dec, in degrees."""
    text = text.strip()
    try:
        value = _number(text.rstrip("d°"))
        return value
    except ValueError:
        pass
    match = _SEXAGESIMAL.match(text)
    if not match:
        raise ValueError(text)
    sign = -1.0 if match.group(1) == "-" else 1.0
    a, b, c = float(match.group(2)), float(match.group(3)), float(match.group(4))
    if b >= 60 or c >= 60:
        raise ValueError(text)
    value = sign * (a + b / 60 + c / 3600)
    return value * 15 if hours else value


def _split_coordinates(text: str) -> tuple[str, str]:
    parts = text.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 6:  # 12 13 14.0 -00 01 02.1
        return ":".join(parts[:3]), ":".join(parts[3:])
    raise ValueError(text)


def parse_position(field: str, text: str, *, label: str = "", frame: str = "icrs") -> Cone | Box:
    text = _check_length(field, text, POSITION_SYNTAX, label)
    lon_name, lat_name = ("l", "b") if frame == "galactic" else ("RA", "Dec")
    try:
        if ".." in text or text[:1] in "<>!" or " <" in text or " >" in text:
            return _parse_ranges(text, frame)
        coordinates, _, radius_text = text.partition(",")
        lon_text, lat_text = _split_coordinates(coordinates.strip())
        hours = frame == "icrs" and bool(re.search(r"[:h]", lon_text))
        lon = parse_angle(lon_text, hours=hours)
        lat = parse_angle(lat_text, hours=False)
        radius = parse_radius(radius_text) if radius_text.strip() else DEFAULT_RADIUS_DEG
    except ValueError:
        raise _error(field, text, "is not a position.", POSITION_SYNTAX, label) from None
    if not 0 <= lon < 360 or not -90 <= lat <= 90:
        raise _error(
            field,
            text,
            f"is outside the sky ({lon_name} 0..360, {lat_name} -90..90).",
            POSITION_SYNTAX,
            label,
        )
    return Cone(lon, lat, radius, frame)


def _parse_ranges(text: str, frame: str) -> Box:
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(text)
    lon = parse_numeric("position", parts[0]) if parts[0] != "*" else None
    lat = parse_numeric("position", parts[1]) if parts[1] != "*" else None
    return Box(lon, lat, frame)


def parse_bands(field: str, text: str, *, label: str = "") -> BandConstraint:
    text = _check_length(field, text, BAND_SYNTAX, label)
    negated = text.startswith("!")
    body = text[1:] if negated else text
    body = re.sub(r"(?i)band\s*", "", body.strip("() "))
    tokens = [t for t in re.split(r"[\s,|]+", body) if t]
    bands = set()
    for token in tokens:
        if not token.isdigit() or not 1 <= int(token) <= 10:
            raise _error(field, text, f"names no ALMA band ('{token[:20]}').", BAND_SYNTAX, label)
        bands.add(int(token))
    if not bands:
        raise _error(field, text, "names no band.", BAND_SYNTAX, label)
    return BandConstraint(frozenset(bands), negated)
