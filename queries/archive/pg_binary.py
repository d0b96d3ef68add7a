"""Arrow record batches as PostgreSQL's binary ``COPY`` stream, built by Arrow and numpy kernels
(no Python per row or per value).

Why: the server reads binary COPY two to three times faster than CSV (100,000 normalised
ObsCore rows into a temporary table, the same minute: 1.2-1.9 s binary, 3.8-4.3 s CSV: no text
to tokenise, no number or date to parse), and ``load_archive`` spends most of its time before
the hierarchy in that COPY. psycopg's own binary ``write_row`` needs a Python tuple per row.

The format (PostgreSQL's "COPY ... BINARY" documentation): a signature, then per row an int16
field count and per field an int32 byte length (-1 for NULL) and the value in the type's
binary form, then an int16 -1. Each field here becomes an Arrow binary array of its per-row
bytes (length and value), and ``binary_join_element_wise`` lays the fields of each row side by
side: its output's data buffer is the stream.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # flags 0, no header extension
TRAILER = b"\xff\xff"
# Type oids (pg_type) this writer knows, and the byte width of the fixed-width ones.
TEXT, VARCHAR, JSONB = 25, 1043, 3802
FIXED = {701: 8, 20: 8, 23: 4, 1184: 8}  # float8, int8, int4, timestamptz
FLOAT8, INT8 = 701, 20
_INT4 = 23
_TIMESTAMPTZ = 1184
# timestamptz is microseconds since 2000-01-01 00:00 UTC.
_PG_EPOCH_US = 946_684_800_000_000


def laid_out(table: pa.Table, oids: list[int]) -> pa.Array:
    """Each row of ``table`` as its fields' bytes, side by side (an Arrow binary array), its
    columns going to columns of types ``oids``: text and varchar (Arrow strings, never null),
    jsonb (JSON text), float8, int4, int8 and timestamptz (Arrow doubles, integers, instants).
    """
    columns = [column.combine_chunks() for column in table.columns]
    fields: list[pa.Array] = []
    for column, oid in zip(columns, oids, strict=True):
        if oid in (TEXT, VARCHAR, JSONB):
            fields.extend(_text(column, jsonb=oid == JSONB))
        elif oid in FIXED:
            fields.append(_fixed(column, oid))
        else:
            raise TypeError(f"no binary COPY writer for type oid {oid}")
    return pc.binary_join_element_wise(*fields, b"")


def stream(count: int, *parts: pa.Array) -> pa.Buffer:
    """The rows of a binary COPY (between ``SIGNATURE`` and ``TRAILER``): each row's field
    count, then its fields, ``parts`` (from ``laid_out``) holding ``count`` fields together."""
    n = len(parts[0])
    joined = pc.binary_join_element_wise(_same(np.array(count, ">i2").tobytes(), n), *parts, b"")
    offsets = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset : joined.offset + n + 1]
    return joined.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def _binary(n: int, offsets: np.ndarray, data: np.ndarray | bytes) -> pa.Array:
    return pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    )


def _same(value: bytes, n: int) -> pa.Array:
    """``value`` on every one of ``n`` rows."""
    width = len(value)
    return _binary(n, np.arange(0, (n + 1) * width, width), value * n)


def _text(column: pa.Array, *, jsonb: bool) -> list[pa.Array]:
    """A text field: its length, then its UTF-8 bytes (jsonb: a version byte, 1, first)."""
    if column.null_count:
        raise ValueError("text columns reach COPY without NULLs")
    n = len(column)
    ends = np.frombuffer(column.buffers()[1], np.int32)[column.offset : column.offset + n + 1]
    lengths = np.diff(ends) + (1 if jsonb else 0)
    head = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
    if jsonb:
        head = np.hstack([head, np.ones((n, 1), np.uint8)])
    width = head.shape[1]
    prefix = _binary(n, np.arange(0, (n + 1) * width, width), np.ascontiguousarray(head))
    return [prefix, column.cast(pa.binary())]


def _fixed(column: pa.Array, oid: int) -> pa.Array:
    """A fixed-width field: length and big-endian value, or length -1 where NULL."""
    width = FIXED[oid]
    n = len(column)
    if oid == _TIMESTAMPTZ:
        column = pc.subtract(column.cast(pa.int64()), _PG_EPOCH_US)
    valid = np.asarray(column.is_valid()) if column.null_count else np.ones(n, bool)
    filled = column.fill_null(0) if column.null_count else column
    if oid == 701:
        values = np.asarray(filled.cast(pa.float64())).astype(">f8")
    else:
        whole = np.asarray(filled.cast(pa.int64()))
        if oid == _INT4:
            if whole.size and (whole.min() < -(2**31) or whole.max() >= 2**31):
                raise OverflowError("integer out of range")
            values = whole.astype(">i4")
        else:
            values = whole.astype(">i8")
    body = np.empty((n, 4 + width), np.uint8)
    body[:, :4] = np.frombuffer(np.array(width, ">i4").tobytes(), np.uint8)
    body[:, 4:] = values.view(np.uint8).reshape(n, width)
    if valid.all():
        return _binary(n, np.arange(0, (n + 1) * (4 + width), 4 + width), body)
    body[~valid, :4] = 0xFF  # -1: NULL, no value bytes
    keep = np.ones((n, 4 + width), bool)
    keep[~valid, 4:] = False
    sizes = np.where(valid, 4 + width, 4)
    return _binary(n, np.concatenate([[0], np.cumsum(sizes)]), body[keep])
