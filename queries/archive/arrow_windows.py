"""The spectral windows of a block of normalised rows (``arrow_load``), by
``queries.spectral.row_windows``'s rule, a block at a time with numpy.

Why: a first load into an empty mirror holds each row's ``frequency_support`` and em range
already; computing their windows here, in the read-ahead thread while the server stores the
previous block, spares ``rebuild_windows`` two scans of the 1.8 GB table a million rows make
(its distinct texts, then every row joined to its text's windows: 5-6 s of the load).

The rule stays ``row_windows``'s (a test holds the two equal row for row): each distinct text
is read by ``queries.spectral.windows`` once per file; a row with an em range keeps the windows
of its text inside that range (to ``EDGE_TOLERANCE_GHZ``), or that range itself with its
``spectral_resolution`` (none when 0) as channel when none is; a row without one keeps every
window listed. Each comparison is the one ``row_windows`` makes, on the same doubles.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from queries.spectral import EDGE_TOLERANCE_GHZ, windows
from queries.units import SPEED_OF_LIGHT_KM_S

# As ``row_windows`` computes a row's range: c (m/s) / wavelength (m) / 1e9.
_C_M_S = SPEED_OF_LIGHT_KM_S * 1e3


class BlockWindows:
    """Windows of a file's blocks; each distinct text is read once for the whole file."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._starts: list[int] = []
        self._counts: list[int] = []
        self._listed: list[tuple[float, float, float]] = []
        self._arrays: tuple[np.ndarray, ...] | None = None

    def of(self, rows: pa.Table) -> tuple[np.ndarray, pa.Table]:
        """The windows of ``rows`` (normalised, by database column name): each window's row
        (an index into ``rows``) and a table of ``lo_ghz``, ``hi_ghz``, ``channel_hz``."""
        texts = pc.fill_null(_whole(rows.column("frequency_support")), "")
        distinct = pc.unique(texts)
        numbers = np.array([self._number(text) for text in distinct.to_pylist()], np.int64)
        starts, counts, lo_listed, hi_listed, channel_listed = self._tables()
        row_text = numbers[np.asarray(pc.index_in(texts, value_set=distinct))]
        em_min = _doubles(rows.column("em_min"))
        em_max = _doubles(rows.column("em_max"))
        # ``em_min and em_max and em_min > 0 and em_max > 0``: NULL, 0 and NaN have no range.
        ranged = (em_min > 0) & (em_max > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(ranged, _C_M_S / em_max / 1e9, np.nan)
            hi = np.where(ranged, _C_M_S / em_min / 1e9, np.nan)

        # Every (row, listed window of its text) pair, rows in order.
        per_row = counts[row_text]
        row_of = np.repeat(np.arange(len(texts)), per_row)
        first = np.cumsum(per_row) - per_row
        window = np.arange(int(per_row.sum())) - np.repeat(first, per_row)
        window += np.repeat(starts[row_text], per_row)
        w_lo, w_hi = lo_listed[window], hi_listed[window]
        own = ~ranged[row_of] | (
            (w_lo >= lo[row_of] - EDGE_TOLERANCE_GHZ) & (w_hi <= hi[row_of] + EDGE_TOLERANCE_GHZ)
        )
        # A row with a range and none of its windows inside it: the range itself.
        bare = np.flatnonzero(ranged & (np.bincount(row_of[own], minlength=len(texts)) == 0))
        resolution = _doubles(rows.column("spectral_resolution"), null=0.0)[bare]
        channel = pa.array(
            np.concatenate([channel_listed[window[own]], resolution]),
            pa.float64(),
            mask=np.concatenate([np.zeros(int(own.sum()), bool), resolution == 0]),
        )
        table = pa.table(
            {
                "lo_ghz": np.concatenate([w_lo[own], np.minimum(lo[bare], hi[bare])]),
                "hi_ghz": np.concatenate([w_hi[own], np.maximum(lo[bare], hi[bare])]),
                "channel_hz": channel,
            }
        )
        return np.concatenate([row_of[own], bare]), table

    def _number(self, text: str) -> int:
        number = self._numbers.get(text)
        if number is None:
            number = self._numbers[text] = len(self._starts)
            found = windows(text)
            self._starts.append(len(self._listed))
            self._counts.append(len(found))
            self._listed.extend((w.lo_ghz, w.hi_ghz, w.channel_hz) for w in found)
            self._arrays = None
        return number

    def _tables(self) -> tuple[np.ndarray, ...]:
        if self._arrays is None:
            listed = np.array(self._listed, np.float64).reshape(-1, 3)
            self._arrays = (
                np.array(self._starts, np.int64),
                np.array(self._counts, np.int64),
                listed[:, 0].copy(),
                listed[:, 1].copy(),
                listed[:, 2].copy(),
            )
        return self._arrays


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _doubles(column: pa.ChunkedArray | pa.Array, *, null: float = np.nan) -> np.ndarray:
    """A float column as doubles, NULL as ``null`` (NaN: never > 0, as None is falsy)."""
    return np.asarray(pc.fill_null(_whole(column), null), np.float64)
