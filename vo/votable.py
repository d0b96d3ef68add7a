"""VOTable 1.4 documents for the TAP service, written as a stream.

A TAP answer can hold a million rows, so the document is produced row by row (``stream``) and
never held whole in memory. FIELDs are typed from the catalogue, never guessed from the data, so
an empty answer still says which columns are numbers. ``QUERY_STATUS`` is ``OK``, or ``OVERFLOW``
after the table when MAXREC cut it (pyvo reads that INFO and warns); errors are a document with
``QUERY_STATUS=ERROR`` and the message, as TAP 1.1 asks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from vo.adql import OutputColumn

NS = "http://www.ivoa.net/xml/VOTable/v1.3"
HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.4" xmlns="{NS}">\n'


def _field(column: OutputColumn) -> str:
    attrs = [f"name={quoteattr(column.name)}", f"datatype={quoteattr(column.datatype)}"]
    arraysize = column.arraysize or ("*" if column.datatype == "char" else "")
    if arraysize:
        attrs.append(f"arraysize={quoteattr(arraysize)}")
    for key in ("unit", "ucd", "utype", "xtype"):
        value = getattr(column, key)
        if value:
            attrs.append(f"{key}={quoteattr(value)}")
    description = (
        f"<DESCRIPTION>{escape(column.description)}</DESCRIPTION>" if column.description else ""
    )
    return (
        f"<FIELD {' '.join(attrs)}>{description}</FIELD>"
        if description
        else f"<FIELD {' '.join(attrs)}/>"
    )


def _cell(value: object, datatype: str) -> str:
    if value is None:
        return "<TD/>"
    if isinstance(value, datetime):
        return f"<TD>{value.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}</TD>"
    if isinstance(value, date):
        return f"<TD>{value.isoformat()}</TD>"
    if datatype in ("double", "float"):
        number = float(value)  # type: ignore[arg-type]
        return "<TD/>" if math.isnan(number) else f"<TD>{number!r}</TD>"
    if datatype in ("int", "long", "short"):
        return f"<TD>{int(value)}</TD>"  # type: ignore[call-overload]
    if datatype == "boolean":
        return f"<TD>{'T' if value else 'F'}</TD>"
    return f"<TD>{escape(str(value))}</TD>"


def stream(
    columns: Sequence[OutputColumn],
    rows: Iterable[Sequence[object]],
    *,
    overflow: Callable[[], bool] | None = None,
    infos: dict[str, str] | None = None,
) -> Iterator[bytes]:
    yield HEAD.encode()
    yield b'<RESOURCE type="results">\n<INFO name="QUERY_STATUS" value="OK"/>\n'
    for name, value in (infos or {}).items():
        yield f"<INFO name={quoteattr(name)} value={quoteattr(value)}/>\n".encode()
    yield ("<TABLE>\n" + "\n".join(_field(c) for c in columns) + "\n<DATA><TABLEDATA>\n").encode()
    types = [c.datatype for c in columns]
    batch: list[str] = []
    for row in rows:
        batch.append(
            "<TR>" + "".join(_cell(v, t) for v, t in zip(row, types, strict=True)) + "</TR>"
        )
        if len(batch) >= 500:
            yield ("\n".join(batch) + "\n").encode()
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode()
    yield b"</TABLEDATA></DATA>\n</TABLE>\n"
    if overflow is not None and overflow():
        yield b'<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n'
    yield b"</RESOURCE>\n</VOTABLE>\n"


def error(message: str) -> bytes:
    """TAP's error document: QUERY_STATUS=ERROR with the message as its text."""
    return (
        HEAD + '<RESOURCE type="results">\n'
        f'<INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    ).encode()
