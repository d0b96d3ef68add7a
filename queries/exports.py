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
    """VOTable through ``archiveportal.votable`` (astropy's C writer corrupted the heap here)."""
    from archiveportal import votable

    fields = []
    for name in names:
        values = [row[name] for row in rows if row[name] is not None]
        if values and all(isinstance(v, bool) for v in values):
            datatype = "boolean"
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            datatype = "long"
        elif values and all(isinstance(v, int | float) for v in values):
            datatype = "double"
        else:
            datatype = "char"
        fields.append(votable.Field(name, datatype, unit=CANONICAL_UNITS.get(name, "")))
    table = ([_cell(row[n]) if row[n] is not None else None for n in names] for row in rows)
    return votable.render(fields, table)


def render(rows: list[dict], names: list[str], fmt: str) -> bytes:
    if fmt == "votable":
        return render_votable(rows, names)
    return render_delimited(rows, names, delimiter="\t" if fmt == "tsv" else ",").encode()
