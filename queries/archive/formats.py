"""Readers for every shape in which ALMA's archive has handed out results.

Each reader turns a file into a ``RawTable``: column names as the file spells them, each column's
unit when the file states one, and rows of plain Python values with the line or row number a
person would look for when something is wrong. No interpretation happens here; the loader maps
names and units.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io.votable import parse
from astropy.io.votable.exceptions import VOTableSpecWarning, VOWarning
from astropy.table import Table

from queries.archive.columns import LEGACY_COLUMNS
from queries.errors import LoadError

_UNTYPED_FIELD = re.compile(rb"<FIELD((?:(?!datatype=)[^>])*?)(\s*/?>)")
_BYTES_LITERAL = re.compile(r"""^b(['"])(.*)\1$""", re.S)


@dataclass
class RawTable:
    path: Path
    kind: str  # "obscore" or "datalink"
    columns: list[str]
    units: dict[str, str] = field(default_factory=dict)
    rows: Sequence[tuple[int, dict[str, object]]] = field(default_factory=list)


class ColumnRows(Sequence):
    """A table's rows kept a column at a time: ``numbers`` (each row's line) and ``cells``
    (one list of plain values per column name). The loader normalises columns, so a large
    delimited file never needs a dict per row; anything that wants rows still gets
    ``(number, {name: value})`` pairs, built when asked for."""

    def __init__(self, numbers: list[int], names: list[str], cells: dict[str, list]) -> None:
        self.numbers, self.names, self.cells = numbers, list(dict.fromkeys(names)), cells

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.numbers[index], {name: self.cells[name][index] for name in self.names}


def plain(value: object) -> object:
    """A file's cell as a plain Python value: masked -> None, bytes and b'...' -> str."""
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        match = _BYTES_LITERAL.match(value)
        if match:
            value = match.group(2)
        value = value.strip()
        if value in NULL_TEXTS:
            return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


NULL_TEXTS = frozenset(("", "--", "nan", "NaN", "None", "<NA>", "null", "NULL"))


def plain_text(value: str) -> str | None:
    """``plain`` of a cell read as text (CSV, TSV): the same answer without the type checks a
    text cell cannot need, since a delimited file of a million rows has tens of millions."""
    if value[:1] == "b":
        match = _BYTES_LITERAL.match(value)
        if match:
            value = match.group(2)
    value = value.strip()
    return None if value in NULL_TEXTS else value


def read_table(path: Path) -> RawTable:
    """Read ``path`` whatever its format; raise ``LoadError`` naming the file if it is none."""
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as handle:  # the head only: a CSV may be gigabytes
            text_head = handle.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        raise LoadError(path, None, None, f"cannot be read ({exc.strerror})") from exc
    if suffix in (".xml", ".vot", ".votable") or text_head.lstrip().startswith("<?xml"):
        return _read_votable(path)
    if suffix == ".ecsv" or text_head.startswith("# %ECSV"):
        return _read_ecsv(path)
    if suffix == ".log":
        return _read_key_value(path)
    first_line = text_head.splitlines()[0] if text_head.strip() else ""
    if suffix == ".tsv" or "\t" in first_line:
        return _read_delimited(path, "\t")
    if suffix == ".csv" or first_line.count(",") >= 2:
        return _read_delimited(path, ",")
    return _read_whitespace(path)


def _read_votable(path: Path) -> RawTable:
    # The 2014 archive declared some FIELDs without a datatype; the standard then says char of
    # length 1, which would cut "2013-07-01" to "2". The archive meant free text.
    content = _UNTYPED_FIELD.sub(rb'<FIELD\1 datatype="char" arraysize="*"\2', path.read_bytes())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VOWarning)
            warnings.simplefilter("ignore", VOTableSpecWarning)
            votable = parse(io.BytesIO(content), verify="ignore")
            resource_tables = list(votable.iter_tables())
    except Exception as exc:
        raise LoadError(path, None, None, f"is not a readable VOTable ({exc})") from exc
    if not resource_tables:
        raise LoadError(path, None, None, "holds no table")
    vtable = resource_tables[0]
    names = [f.name for f in vtable.fields]
    units = {f.name: str(f.unit) for f in vtable.fields if f.unit is not None}
    kind = "datalink" if {"ID", "access_url", "semantics"} <= set(names) else "obscore"
    array = vtable.array
    rows = []
    for i in range(len(array)):
        record = array[i]
        rows.append((i + 1, {name: plain(record[name]) for name in names}))
    return RawTable(path, kind, names, units, rows)


def _read_ecsv(path: Path) -> RawTable:
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:
        raise LoadError(path, None, None, f"is not a readable ECSV table ({exc})") from exc
    names = list(table.colnames)
    units = {n: str(table[n].unit) for n in names if table[n].unit is not None}
    rows = [(i + 1, {n: plain(table[n][i]) for n in names}) for i in range(len(table))]
    return RawTable(path, "obscore", names, units, rows)


def _read_delimited(path: Path, delimiter: str) -> RawTable:
    """A CSV or TSV file: its header now, its rows as ``ArrowRows``: streamed by pyarrow's
    parser for the loader's fast path, read by the ``csv`` module for anything else."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        try:
            header = _obscore_header(path, next(csv.reader(handle, delimiter=delimiter)))
        except StopIteration:
            raise LoadError(path, None, None, "is empty") from None
    return RawTable(path, "obscore", header, {}, ArrowRows(path, delimiter, header))


class ArrowRows(Sequence):
    """A delimited file's rows, read when asked for: ``blocks()`` streams them as pyarrow
    parses them (record batches of text cells, one string column per header name, cells as
    written, before ``plain_text``) for the loader's column-wise fast path
    (``queries.archive.arrow_load``).

    pyarrow does not know the file's line numbers, and its reading of an odd file could differ
    from the ``csv`` module's; so everything else, the rows as ``(number, {name: value})``
    pairs and ``exactly()`` (a ``ColumnRows``), comes from the ``csv`` module, as before. The
    fast path gives up to that reading whenever a cell would need a message."""

    # Bytes per block pyarrow parses (and the fast path normalises and COPYs) at a time:
    # ~35,000 ObsCore rows, so a block's fixed costs (a statement or two) are noise.
    BLOCK_BYTES = 64 << 20

    def __init__(self, path: Path, delimiter: str, header: list[str]) -> None:
        self.path, self.delimiter, self.header = path, delimiter, header
        self._exact: ColumnRows | None = None

    def blocks(self):
        """Record batches of the file's rows (``pyarrow.lib.ArrowInvalid`` where pyarrow
        refuses the file: a ragged row, bytes that are not UTF-8)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                column_names=self.header, skip_rows=1, block_size=self.BLOCK_BYTES
            ),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        yield from reader

    def estimated_rows(self) -> int:
        """How many rows the file holds, from its size and the lines of its first 64 kB (more
        than there are if values hold line breaks): enough to decide whether a load defers
        the mirror's indexes before the file is read."""
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            head = handle.read(1 << 16)
        lines = head.count(b"\n")
        if size <= len(head) or lines < 2:
            return max(lines - 1, 0) if size <= len(head) else size // max(len(head), 1)
        return int(size / (len(head) / lines))

    def exactly(self) -> ColumnRows:
        if self._exact is None:
            rows = _read_delimited_exactly(self.path, self.delimiter).rows
            assert isinstance(rows, ColumnRows)
            self._exact = rows
        return self._exact

    def __len__(self) -> int:
        return len(self.exactly())

    def __getitem__(self, index):
        return self.exactly()[index]


def _read_delimited_exactly(path: Path, delimiter: str) -> RawTable:
    """A CSV or TSV file, kept a column at a time (``ColumnRows``): a million rows of sixty
    cells would otherwise be a million dicts. Blank lines are skipped; a line with more or
    fewer fields than the header fails, naming it."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = _obscore_header(path, next(reader))
        except StopIteration:
            raise LoadError(path, None, None, "is empty") from None
        numbers, rows = [], []
        for row in reader:
            if not "".join(row).strip():  # no cell has anything but blanks
                continue
            if len(row) != len(header):
                _row(path, reader.line_num, header, row)  # raises, naming the line
            numbers.append(reader.line_num)
            rows.append(row)
    cells: dict[str, list] = {}
    # zip(*rows) turns rows into columns; with duplicate names the last column wins, as in a
    # dict built from the row.
    columns = zip(*rows, strict=True) if rows else [()] * len(header)
    for name, column in zip(header, columns, strict=True):
        cells[name] = list(map(plain_text, column))
    return RawTable(path, "obscore", header, {}, ColumnRows(numbers, header, cells))


def _read_whitespace(path: Path) -> RawTable:
    """astropy's ascii tables (astroquery's fixtures): space separated, quoted, b'...' values."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise LoadError(path, None, None, "is empty")
    header = _obscore_header(path, lines[0].split())
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = next(
            csv.reader(io.StringIO(line), delimiter=" ", quotechar='"', skipinitialspace=True)
        )
        cells = [c for c in cells if c != ""] if len(cells) > len(header) else cells
        rows.append(_row(path, number, header, cells))
    return RawTable(path, "obscore", header, {}, rows)


def _obscore_header(path: Path, header: list[str]) -> list[str]:
    if not _looks_like_obscore(header):
        raise LoadError(
            path, 1, None, "is not an ObsCore table (its header names no ObsCore column)"
        )
    return header


def _row(path: Path, number: int, header: list[str], cells: list[str]) -> tuple[int, dict]:
    if len(cells) != len(header):
        raise LoadError(
            path, number, None, f"has {len(cells)} fields where the header has {len(header)}"
        )
    return number, dict(zip(header, map(plain_text, cells), strict=True))


def _read_key_value(path: Path) -> RawTable:
    """One ObsCore row printed a column per line (``name   value``), as in ADMIT's logs."""
    row: dict[str, object] = {}
    first_line = None
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.strip().partition(" ")
        row[key] = plain(value.strip())
        first_line = first_line or number
    if "obs_id" not in row:
        raise LoadError(path, None, "obs_id", "has no obs_id line: not an ObsCore row listing")
    return RawTable(path, "obscore", list(row), {}, [(first_line or 1, row)])


def _looks_like_obscore(header: list[str]) -> bool:
    known = {"obs_id", "proposal_id", "member_ous_uid", "obs_publisher_did", "target_name"}
    return bool(known & set(header)) or any(h.lower() in LEGACY_COLUMNS for h in header)
