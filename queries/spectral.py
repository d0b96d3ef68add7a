"""Spectral windows: ALMA's ``frequency_support`` text read into ranges, and what a line needs.

ALMA describes each observation's tuning as one bracket per spectral window, joined by `` U ``::

    [95.06..96.94GHz,1128.91kHz,769.7uJy/beam@10km/s,31.8uJy/beam@native, XX YY] U [...]

(range in GHz, channel width, line sensitivity at 10 km/s, continuum sensitivity, polarisations).
A line is observed only if a window covers its observed frequency: the representative
``frequency`` and even ``em_min..em_max`` (which span the gaps between windows) are not enough.
Some texts reach the portal cut short (``...`` after a window's width): every window whose range
and width arrived is kept, the rest is ignored, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from queries.units import SPEED_OF_LIGHT_KM_S

# ALMA's receiver bands, GHz (the ALMA Technical Handbook's tuning ranges).
BAND_RANGES_GHZ: dict[int, tuple[float, float]] = {
    1: (35.0, 50.0),
    2: (65.0, 90.0),
    3: (84.0, 116.0),
    4: (125.0, 163.0),
    5: (163.0, 211.0),
    6: (211.0, 275.0),
    7: (275.0, 373.0),
    8: (385.0, 500.0),
    9: (602.0, 720.0),
    10: (787.0, 950.0),
}

_WINDOW = re.compile(
    r"\[\s*(?P<lo>\d+(?:\.\d*)?)\s*\.\.\s*(?P<hi>\d+(?:\.\d*)?)\s*GHz\s*,"
    r"\s*(?P<width>\d+(?:\.\d*)?)\s*(?P<unit>[kMG]?Hz)"
)
_HZ = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}


@dataclass(frozen=True)
class Window:
    """One spectral window: its sky-frequency range in GHz and channel width in Hz."""

    lo_ghz: float
    hi_ghz: float
    channel_hz: float

    def covers(self, frequency_ghz: float) -> bool:
        return self.lo_ghz <= frequency_ghz <= self.hi_ghz

    def resolution_kms(self, frequency_ghz: float) -> float:
        """The channel width as a velocity at ``frequency_ghz`` (radio convention)."""
        return SPEED_OF_LIGHT_KM_S * self.channel_hz / (frequency_ghz * 1e9)


def windows(frequency_support: str | None) -> list[Window]:
    """The complete windows of a ``frequency_support`` text, in the order ALMA lists them."""
    found = []
    for match in _WINDOW.finditer(frequency_support or ""):
        lo, hi = float(match["lo"]), float(match["hi"])
        found.append(Window(min(lo, hi), max(lo, hi), float(match["width"]) * _HZ[match["unit"]]))
    return found
