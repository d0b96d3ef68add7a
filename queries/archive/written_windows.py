"""A first load's rows written with their ids and spectral windows, in one pass.

Why: ``load_archive``'s first load into an empty mirror (``arrow_load``) holds each row's
``frequency_support`` and em range as it writes the row. Computing the row's windows there
(``arrow_windows.BlockWindows``, in the read-ahead thread) and COPYing them after the rows
spares ``rebuild_windows`` two scans of the 1.8 GB table a million rows make. The windows need
their rows' ids before the rows are written: ``SequenceIds`` takes them from the table's
sequence, as the column's default would.

The harvest's first load does not use it: its pages are bound by the one connection that
COPYs them, and the windows' work (and the read-ahead thread's, which holds the GIL the COPY
needs) made its pages 10.7 s longer on 1M rows for 1.9 s less in its final step, where the
windows are rebuilt beside the hierarchy on a connection with a core to spare (bench/README.md).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from django.db import connection

from queries import staging
from queries.archive import pg_binary
from queries.archive.arrow_windows import BlockWindows
from queries.models import SpectralWindow

WINDOWS = SpectralWindow._meta.db_table
# A block's windows, ready to COPY: each window's row (an index into the block) and its range
# and channel laid out (``pg_binary.laid_out``).
Found = tuple[np.ndarray, pa.Array]


def laid_out(windows: BlockWindows, rows: pa.Table) -> Found:
    """The windows of ``rows`` (normalised, by database column name), laid out for COPY."""
    row_of, ranges = windows.of(rows)
    return row_of, pg_binary.laid_out(ranges, [pg_binary.FLOAT8] * 3)


class SequenceIds:
    """Ids for the rows about to be COPYed into the mirror, taken from its sequence as its
    default would take them, so that their windows can be COPYed with them."""

    def __init__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [staging.TABLE])
            (self.sequence,) = cursor.fetchone()

    def take(self, n: int) -> pa.Array:
        """``n`` new ids: one range when no other writer took ids meanwhile (read as its ends),
        else each id as the sequence gave it."""
        taken = f"SELECT nextval(%s::regclass) AS id FROM generate_series(1, {int(n)})"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT min(id), max(id) FROM ({taken}) t", [self.sequence])
            low, high = cursor.fetchone()
            if high - low + 1 == n:
                return pa.array(np.arange(low, high + 1, dtype=np.int64))
            cursor.execute(taken, [self.sequence])
            return pa.array([pk for (pk,) in cursor.fetchall()], pa.int64())


def copy_windows(ids: pa.Array, found: Found | None) -> None:
    """A block's windows (``laid_out``) into the windows table, each with the id of its row
    (``ids``, in the block's order)."""
    if found is None or not len(found[0]):
        return
    row_of, ranges = found
    owners = pa.table({"observation_id": ids.take(pa.array(row_of))})
    stream = pg_binary.stream(4, pg_binary.laid_out(owners, [pg_binary.INT8]), ranges)
    copy_stream(WINDOWS, ["observation_id", "lo_ghz", "hi_ghz", "channel_hz"], stream)


def copy_stream(target: str, names: list[str], stream: pa.Buffer) -> None:
    """``stream`` (``pg_binary.stream``'s rows) into ``target``'s ``names`` by binary COPY."""
    quote = connection.ops.quote_name
    columns = ", ".join(map(quote, names))
    with connection.cursor() as cursor, cursor.db.wrap_database_errors:
        with cursor.cursor.copy(
            f"COPY {quote(target)} ({columns}) FROM STDIN (FORMAT BINARY)"
        ) as out:
            out.write(pg_binary.SIGNATURE)
            out.write(memoryview(stream))
            out.write(pg_binary.TRAILER)
