"""A small VOTable 1.4 writer for the portal's own responses (DataLink, search exports).

Written by hand rather than through astropy's writer: in this process astropy's C table writer
corrupted the heap intermittently (segmentation faults in unrelated code after DataLink writes),
and these documents are simple enough — one table, scalar columns — to write with the standard
library's XML escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Field:
    name: str
    datatype: str  # char | long | double | boolean
    unit: str = ""
    ucd: str = ""


def _cell(value: object) -> str:
    if value is None:
        return "<TD/>"
    if isinstance(value, bool):
        return f"<TD>{'true' if value else 'false'}</TD>"
    if isinstance(value, float):
        return f"<TD>{value!r}</TD>"
    return f"<TD>{escape(str(value))}</TD>"


def render(
    fields: Sequence[Field],
    rows: Iterable[Sequence[object]],
    *,
    infos: dict[str, str] | None = None,
) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">',
        '<RESOURCE type="results">',
    ]
    for name, value in (infos or {}).items():
        out.append(f"<INFO name={quoteattr(name)} value={quoteattr(value)}/>")
    out.append("<TABLE>")
    for f in fields:
        attrs = f"name={quoteattr(f.name)} datatype={quoteattr(f.datatype)}"
        if f.datatype == "char":
            attrs += ' arraysize="*"'
        if f.unit:
            attrs += f" unit={quoteattr(f.unit)}"
        if f.ucd:
            attrs += f" ucd={quoteattr(f.ucd)}"
        out.append(f"<FIELD {attrs}/>")
    out.append("<DATA><TABLEDATA>")
    for row in rows:
        out.append("<TR>" + "".join(_cell(v) for v in row) + "</TR>")
    out.append("</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>")
    return ("\n".join(out) + "\n").encode("utf-8")
