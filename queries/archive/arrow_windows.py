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
        # Per text (by number): where its windows start in the listed arrays, and how many.
        self._starts = np.zeros(0, np.int64)
        self._counts = np.zeros(0, np.int64)
        # Every text's windows, one after the other: range and channel width.
        self._lo = self._hi = self._channel = np.zeros(0, np.float64)

    def of(self, rows: pa.Table) -> tuple[np.ndarray, pa.Table]:
        """The windows of ``rows`` (normalised, by database column name): each window's row
        (an index into ``rows``) and a table of ``lo_ghz``, ``hi_ghz``, ``channel_hz``."""
        texts = pc.fill_null(_whole(rows.column("frequency_support")), "")
        distinct = pc.unique(texts)
        numbers = self._read(distinct.to_pylist())
        starts, counts = self._starts, self._counts
        lo_listed, hi_listed, channel_listed = self._lo, self._hi, self._channel
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

    def _read(self, texts: list[str]) -> np.ndarray:
        """The numbers of ``texts``, each text not seen before read by ``windows`` first."""
        new = [text for text in texts if text not in self._numbers]
        if new:
            found = [windows(text) for text in new]
            counts = np.array([len(listed) for listed in found], np.int64)
            starts = len(self._lo) + np.cumsum(counts) - counts
            flat = [w for listed in found for w in listed]
            first = len(self._starts)
            self._numbers.update({text: first + i for i, text in enumerate(new)})
            self._starts = np.concatenate([self._starts, starts])
            self._counts = np.concatenate([self._counts, counts])
            self._lo = np.concatenate([self._lo, np.array([w.lo_ghz for w in flat], np.float64)])
            self._hi = np.concatenate([self._hi, np.array([w.hi_ghz for w in flat], np.float64)])
            self._channel = np.concatenate(
                [self._channel, np.array([w.channel_hz for w in flat], np.float64)]
            )
        return np.array([self._numbers[text] for text in texts], np.int64)


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _doubles(column: pa.ChunkedArray | pa.Array, *, null: float = np.nan) -> np.ndarray:
    """A float column as doubles, NULL as ``null`` (NaN: never > 0, as None is falsy)."""
    return np.asarray(pc.fill_null(_whole(column), null), np.float64)
