"""VOTable 1.4 documents the portal serves (DataLink, search exports), written by astropy.

One table of scalar columns, each declared by a ``Field`` (its VOTable ``datatype``, unit and
UCD) rather than guessed from the values, so an empty table still says what its columns are.
``None`` is a null cell (an empty ``<TD/>`` in TABLEDATA).

astropy's writer was replaced by a hand-written one once, when the suite segfaulted after
DataLink writes; the same commit removed time-machine, which ``archiveportal/clock.py`` blames
for C-level crashes. This module puts astropy back to re-test that under the whole suite.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from astropy.io.votable.tree import Field as VOField
from astropy.io.votable.tree import Info, Resource, TableElement, VOTableFile

# A null cell's placeholder under the mask, per datatype (never written: the mask says null).
_FILL = {"char": "", "long": 0, "double": np.nan, "boolean": False}


@dataclass(frozen=True)
class Field:
    name: str
    datatype: str  # char | long | double | boolean
    unit: str = ""
    ucd: str = ""


def render(
    fields: Sequence[Field],
    rows: Iterable[Sequence[object]],
    *,
    infos: dict[str, str] | None = None,
    binary: bool = False,
) -> bytes:
    """The document for ``rows`` (tuples in ``fields`` order); BINARY2 when ``binary``."""
    rows = list(rows)
    document = VOTableFile(version="1.4")
    resource = Resource(type="results")
    document.resources.append(resource)
    for name, value in (infos or {}).items():
        resource.infos.append(Info(name=name, value=value))
    table = TableElement(document)
    resource.tables.append(table)
    for f in fields:
        table.fields.append(
            VOField(
                document,
                name=f.name,
                datatype=f.datatype,
                arraysize="*" if f.datatype == "char" else None,
                unit=f.unit or None,
                ucd=f.ucd or None,
            )
        )
    table.create_arrays(len(rows))
    for i, f in enumerate(fields):
        values = [row[i] for row in rows]
        fill = _FILL[f.datatype]
        table.array[f.name] = [fill if v is None else v for v in values]
        table.array.mask[f.name] = [v is None for v in values]
    table.format = "binary2" if binary else "tabledata"
    out = io.BytesIO()
    document.to_xml(out)
    return out.getvalue()
