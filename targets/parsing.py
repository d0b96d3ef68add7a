"""An uploaded target list -> one ``ParsedRow`` per non-blank line, each good or with a reason.

Pure (no database): names are resolved later by the worker. A line is
* a position in the search form's "RA Dec" syntax (``queries.syntax.parse_position``, one cone:
  ``83.8221 -5.3911, 30arcsec``, ``05:35:17.3 -05:23:28``, ``83.82, -5.39, 2'``), or
* a source name, optionally followed by ``, radius`` (``NGC 1068, 1arcmin``);
* or, in a CSV with a header, the columns ``name`` (or ``target``/``source``) and/or ``ra`` and
  ``dec``, and optionally ``radius`` (a row with a name and coordinates searches the
  coordinates and is labelled by the name).
The default radius is the resolver field's (10 arcmin). Blank lines and ``#`` comments are
skipped; every other line becomes a row, so nothing is silently dropped: a line that cannot be
read becomes an invalid row whose reason names the line and the accepted syntax.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from queries import syntax
from queries.errors import QueryInputError
from targets.errors import TargetFileError

MAX_NAME_LENGTH = 200
MAX_LINE_LENGTH = 300
ROW_SYNTAX = (
    "one target per line: a source name (NGC 1068), or 'RA Dec' in degrees or sexagesimal "
    "(83.8221 -5.3911 or 05:35:17.3 -05:23:28), each optionally followed by ', radius' "
    "(0.05, 30arcsec, 2', 0.1deg; 10 arcmin if omitted); or a CSV whose header names the "
    "columns name and/or ra and dec, and optionally radius"
)
NAME_COLUMNS = ("name", "target", "source", "source_name", "target_name")
HEADER_WORDS = {*NAME_COLUMNS, "ra", "dec", "radius"}
# A first token that is a number or a sexagesimal angle: the line means a position.
_NUMERIC_START = re.compile(r"^[+-]?[\d.]+([:hdms°'\"][\d.]*)*[hdms°'\"]?$", re.I)


@dataclass(frozen=True)
class ParsedRow:
    number: int  # line number in the upload, from 1
    text: str  # the line as uploaded (cut)
    label: str = ""  # what the result's `target` column shows
    name: str = ""  # a name for the worker to resolve
    ra: float | None = None
    dec: float | None = None
    radius: float | None = None  # degrees
    reason: str = ""  # why the line cannot be searched (then nothing else is set)


def decode(data: bytes) -> str:
    """The upload as text; a binary file or another encoding is refused whole."""
    if not data.strip():
        raise TargetFileError(f"The file is empty. Accepted: {ROW_SYNTAX}.")
    if b"\x00" in data:
        raise TargetFileError(f"The file is not a text file (it holds NUL bytes). {ROW_SYNTAX}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TargetFileError(
            f"The file is not UTF-8 text (a spreadsheet? save it as CSV). Accepted: {ROW_SYNTAX}."
        ) from None
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        raise TargetFileError(f"The file holds control characters. Accepted: {ROW_SYNTAX}.")
    return text


def parse_upload(data: bytes, *, max_rows: int) -> list[ParsedRow]:
    """Every non-blank, non-comment line as a row; refuses the whole file when it is empty,
    not text, or longer than ``max_rows`` targets."""
    lines = [
        (number, line.strip())
        for number, line in enumerate(decode(data).splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines:
        raise TargetFileError(f"The file has no target in it. Accepted: {ROW_SYNTAX}.")
    header = _header(lines[0][1])
    if header is not None:
        lines = lines[1:]
        if not lines:
            raise TargetFileError("The file has a header but no target under it.")
    if len(lines) > max_rows:
        raise TargetFileError(
            f"The file has {len(lines)} targets; a list holds at most {max_rows}. Split it."
        )
    if header is None:
        return [parse_line(number, line) for number, line in lines]
    return [_parse_csv_row(number, line, header) for number, line in lines]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in next(csv.reader(io.StringIO(line)), [])]


def _header(line: str) -> list[str] | None:
    """The column names when the first line is a CSV header naming known columns."""
    cells = [c.lower() for c in _cells(line)]
    if not cells or not set(cells) <= HEADER_WORDS:
        return None
    if not (set(cells) & set(NAME_COLUMNS) or {"ra", "dec"} <= set(cells)):
        return None
    return cells


def _invalid(number: int, text: str, why: str) -> ParsedRow:
    shown = text[:MAX_LINE_LENGTH]
    return ParsedRow(number, shown, label=shown[:200], reason=f"Line {number}: {why}")


def _position(number: int, text: str, *, line: str, label: str = "") -> ParsedRow:
    try:
        node = syntax.parse_position("target", text, label=f"Line {number}")
    except QueryInputError as exc:
        return _invalid(number, line, f"'{text[:60]}' {exc.message} Accepted: {ROW_SYNTAX}.")
    if not isinstance(node, syntax.Cone):
        return _invalid(
            number,
            line,
            f"'{text[:60]}' is not one cone (ranges and '|' belong in the search form). "
            f"Accepted: {ROW_SYNTAX}.",
        )
    shown = line[:MAX_LINE_LENGTH]
    return ParsedRow(
        number, shown, label=(label or shown)[:200], ra=node.ra, dec=node.dec, radius=node.radius
    )


def _looks_like_coordinates(text: str) -> bool:
    first = text.replace(",", " ").split()[0]
    return bool(_NUMERIC_START.match(first))


def parse_line(number: int, text: str) -> ParsedRow:
    """One line without a header: a position if it starts like one, else a name[, radius]."""
    if len(text) > MAX_LINE_LENGTH:
        return _invalid(number, text, f"is longer than {MAX_LINE_LENGTH} characters.")
    if _looks_like_coordinates(text):
        return _position(number, text, line=text)
    name, radius = text, syntax.DEFAULT_RADIUS_DEG
    head, comma, tail = text.rpartition(",")
    if comma:
        try:
            radius = syntax.parse_radius(tail)
            name = head
        except ValueError:
            name = text  # a comma that belongs to the name
    return _name_row(number, text, name, radius)


def _name_row(number: int, line: str, name: str, radius: float) -> ParsedRow:
    name = name.strip().strip('"').strip()
    if not name:
        return _invalid(number, line, f"has no source name. Accepted: {ROW_SYNTAX}.")
    if len(name) > MAX_NAME_LENGTH:
        return _invalid(number, line, f"has a name longer than {MAX_NAME_LENGTH} characters.")
    return ParsedRow(number, line[:MAX_LINE_LENGTH], label=name, name=name, radius=radius)


def _parse_csv_row(number: int, line: str, header: list[str]) -> ParsedRow:
    cells = _cells(line)
    if len(cells) > len(header):
        return _invalid(
            number, line, f"has {len(cells)} cells for {len(header)} columns ({', '.join(header)})."
        )
    row = dict(zip(header, cells, strict=False))
    radius_text = row.get("radius", "")
    name = next((row[c] for c in NAME_COLUMNS if row.get(c)), "")
    if row.get("ra") and row.get("dec"):
        text = f"{row['ra']} {row['dec']}" + (f", {radius_text}" if radius_text else "")
        return _position(number, text, line=line, label=name)
    if name:
        try:
            radius = syntax.parse_radius(radius_text) if radius_text else syntax.DEFAULT_RADIUS_DEG
        except ValueError as exc:
            return _invalid(number, line, f"{exc} Accepted: {ROW_SYNTAX}.")
        return _name_row(number, line, name, radius)
    return _invalid(
        number, line, f"has neither a name nor both ra and dec. Accepted: {ROW_SYNTAX}."
    )
