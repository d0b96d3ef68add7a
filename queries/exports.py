"""The whole result of a search as CSV, TSV or VOTable, with each column's unit.

Values are written in the mirror's (ObsCore's) units, which the header states:
``frequency [GHz]`` in CSV/TSV, the FIELD ``unit`` attribute in VOTable.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from queries.units import CANONICAL_UNITS

CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "votable": "application/x-votable+xml",
}
EXTENSIONS = {"csv": "csv", "tsv": "tsv", "votable": "xml"}


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def render_delimited(rows: list[dict], names: list[str], *, delimiter: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow([f"{n} [{CANONICAL_UNITS[n]}]" if n in CANONICAL_UNITS else n for n in names])
    for row in rows:
        writer.writerow([_cell(row[n]) for n in names])
    return buffer.getvalue()


def render_votable(rows: list[dict], names: list[str]) -> bytes:
    from astropy.table import MaskedColumn, Table

    table = Table()
    for name in names:
        values = [row[name] for row in rows]
        mask = [v is None for v in values]
        numeric = all(isinstance(v, int | float) for v in values if v is not None) and any(
            v is not None for v in values
        )
        if numeric:
            column = MaskedColumn(
                [0.0 if v is None else float(v) for v in values],
                mask=mask,
                unit=CANONICAL_UNITS.get(name),
            )
        else:
            column = MaskedColumn(
                [_cell(v) for v in values] or [""], mask=mask or [True], dtype=str
            )[: len(values)]
        table[name] = column
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()


def render(rows: list[dict], names: list[str], fmt: str) -> bytes:
    if fmt == "votable":
        return render_votable(rows, names)
    return render_delimited(rows, names, delimiter="\t" if fmt == "tsv" else ",").encode()
