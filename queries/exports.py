"""The whole result of a search as CSV, TSV or VOTable, with each column's unit.

Values are written in the mirror's (ObsCore's) units, which the header states:
``frequency [GHz]`` in CSV/TSV, the FIELD ``unit`` attribute in VOTable. VOTable columns are
typed from the mirror's schema (the ``Observation`` field behind each column), never from the
values, so an empty result still has its numbers as ``double`` and its text as ``char``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.db import models

from archiveportal import votable
from queries.models import Observation
from queries.units import CANONICAL_UNITS

CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "votable": "application/x-votable+xml",
}
EXTENSIONS = {"csv": "csv", "tsv": "tsv", "votable": "xml"}
# Model field -> VOTable datatype; anything else (text, dates as ISO 8601) is char.
_DATATYPES = {
    models.FloatField: "double",
    models.IntegerField: "long",
    models.BigIntegerField: "long",
    models.BooleanField: "boolean",
}


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


def votable_field(name: str) -> votable.Field:
    """The FIELD of mirror column ``name``: its type from the model, its unit from ``units``."""
    datatype = _DATATYPES.get(type(Observation._meta.get_field(name)), "char")
    return votable.Field(name, datatype, unit=CANONICAL_UNITS.get(name, ""))


def render_votable(rows: list[dict], names: list[str]) -> bytes:
    fields = [votable_field(n) for n in names]
    # Values as stored: the one VOTable writer formats instants and booleans as TAP does.
    return votable.render(fields, ([row[n] for n in names] for row in rows))


def render(rows: list[dict], names: list[str], fmt: str) -> bytes:
    if fmt == "votable":
        return render_votable(rows, names)
    return render_delimited(rows, names, delimiter="\t" if fmt == "tsv" else ",").encode()
