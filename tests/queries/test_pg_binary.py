"""Arrow batches as binary COPY (``queries.archive.pg_binary``): what the server reads back is
what was sent, NULLs, edges of each type and non-ASCII text included."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from django.db import connection

from queries.archive import pg_binary

pytestmark = pytest.mark.django_db

COLUMNS = {
    "t": ("text", pa.string(), ["", "é\u2003 ü", "a\nb", 'q"uote'], "text"),
    "v": ("varchar(8)", pa.string(), ["x", "", "12345678", "ÄÖ"], "varchar"),
    "j": ("jsonb", pa.string(), ["{}", '{"a": "é"}', "{}", '{"n": 1}'], "jsonb"),
    "f": ("float8", pa.float64(), [0.1, None, -1e300, float("inf")], "float"),
    "i4": ("int4", pa.int64(), [2**31 - 1, -(2**31), None, 0], "int"),
    "i8": ("int8", pa.int64(), [2**62, None, -1, 7], "int"),
    "ts": (
        "timestamptz",
        pa.timestamp("us", tz="UTC"),
        [
            datetime(3000, 1, 1, tzinfo=UTC),
            datetime(2015, 3, 6, 7, 29, 24, 403200, tzinfo=UTC),
            None,
            datetime(1990, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        ],
        "instant",
    ),
}


def test_every_type_reads_back_as_sent():
    table = pa.table([pa.array(v, t) for _, t, v, _ in COLUMNS.values()], list(COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE copied ("
            + ", ".join(f"{name} {sql}" for name, (sql, *_) in COLUMNS.items())
            + ", n serial)"
        )
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = 'copied'::regclass"
        )
        oids = dict(cursor.fetchall())
        names = ", ".join(COLUMNS)
        with cursor.cursor.copy(f"COPY copied ({names}) FROM STDIN (FORMAT BINARY)") as out:
            out.write(pg_binary.SIGNATURE)
            laid_out = pg_binary.laid_out(table, [oids[n] for n in COLUMNS])
            out.write(memoryview(pg_binary.stream(len(COLUMNS), laid_out)))
            out.write(pg_binary.TRAILER)
        cursor.execute(f"SELECT {names} FROM copied ORDER BY n")
        got = list(zip(*cursor.fetchall(), strict=True))
    for (name, (_, _, sent, kind)), back in zip(COLUMNS.items(), got, strict=True):
        if kind == "jsonb":  # Django's connection reads jsonb as its text
            sent, back = [json.loads(v) for v in sent], [json.loads(v) for v in back]
        assert list(back) == sent, name


def test_an_int4_out_of_range_is_refused_not_wrapped():
    table = pa.table({"i": pa.array([2**31], pa.int64())})
    with pytest.raises(OverflowError):
        pg_binary.laid_out(table, [23])
