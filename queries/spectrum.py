"""The spectral view: each result row's spectral windows drawn as SVG on a frequency axis, with
ALMA's receiver bands marked and the chosen lines at their observed frequencies.

Server-side, like the sky plot: no chart library to ship, nothing to compute in the browser,
the same picture in every browser and in the tests. One track per row, in the table's order;
each window is a bar whose ``<title>`` gives its range and channel width (and its resolution in
km/s at a line it covers); each track carries the row's key (``data-row``) for the page's script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from queries.spectral import BAND_RANGES_GHZ, Window

TRACK = 9  # px per row
AXIS = 34  # px for the band labels above and the frequency axis below
LEFT = 8
BAND_LABEL_PX = 40  # the width "Band 10" takes at the label's size


@dataclass(frozen=True)
class Track:
    key: str
    label: str
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class MarkedLine:
    """A line drawn on the axis: its name and observed frequency in GHz."""

    name: str
    observed_ghz: float


def _span(tracks: Sequence[Track], lines: Sequence[MarkedLine]) -> tuple[float, float]:
    """The frequency range shown: every window and line, with a margin, at least 2 GHz."""
    values = [f for t in tracks for w in t.windows for f in (w.lo_ghz, w.hi_ghz)]
    values += [line.observed_ghz for line in lines]
    if not values:
        return 84.0, 950.0
    lo, hi = min(values), max(values)
    margin = max((hi - lo) * 0.04, 1.0)
    return max(0.0, lo - margin), hi + margin


def _ticks(lo: float, hi: float) -> list[float]:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200):
        if (hi - lo) / step <= 8:
            break
    first = int(lo / step + 0.999999) * step
    return [round(first + i * step, 6) for i in range(int((hi - first) / step) + 1)]


def render(
    tracks: Sequence[Track], lines: Sequence[MarkedLine] = (), *, width: int = 480
) -> SafeString:
    """The SVG element (safe markup: every text from a row is escaped)."""
    lo, hi = _span(tracks, lines)
    inner = width - 2 * LEFT
    height = 2 * AXIS + max(1, len(tracks)) * TRACK

    def x(ghz: float) -> str:
        return f"{LEFT + (ghz - lo) / (hi - lo) * inner:.1f}"

    def w(a: float, b: float) -> str:
        return f"{max(1.0, (b - a) / (hi - lo) * inner):.1f}"

    bands = [
        (n, max(a, lo), min(b, hi)) for n, (a, b) in BAND_RANGES_GHZ.items() if b > lo and a < hi
    ]
    # Numbers only: no escaping to do. A band too narrow on the plot for its label (one just
    # touching the view's edge) is shaded without one, so labels never overprint each other.
    band_marks = mark_safe(
        "".join(
            f'<rect class="spec-band" x="{x(a)}" y="{AXIS}" width="{w(a, b)}" '
            f'height="{height - 2 * AXIS}"/>'
            + (
                f'<text class="spec-band-label" x="{x(a)}" y="{AXIS - 6}">Band {n}</text>'
                if float(w(a, b)) >= BAND_LABEL_PX
                else ""
            )
            for n, a, b in bands
        )
    )
    bars = []
    for row, track in enumerate(tracks):
        y = f"{AXIS + row * TRACK + 1:.1f}"
        # The label escaped once per track; everything else is a number formatted here.
        label = escape(track.label)
        rects = "".join(
            f'<rect class="spec-window" x="{x(win.lo_ghz)}" y="{y}" '
            f'width="{w(win.lo_ghz, win.hi_ghz)}" height="{TRACK - 2}"><title>{label}: '
            f"{win.lo_ghz:.3f} - {win.hi_ghz:.3f} GHz, channel {_channel(win.channel_hz)}"
            f"{escape(_resolution(win, lines))}</title></rect>"
            for win in track.windows
        )
        bars.append(f'<g class="spec-track" data-row="{escape(track.key)}">{rects}</g>')
    line_marks = format_html_join(
        "",
        '<line class="spec-line" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/>'
        '<text class="spec-line-label" x="{0}" y="{3}">{4}</text>',
        (
            (x(m.observed_ghz), AXIS - 2, height - AXIS + 2, height - AXIS + 26, m.name)
            for m in lines
            if lo <= m.observed_ghz <= hi
        ),
    )
    axis = format_html_join(
        "",
        '<text class="spec-tick" x="{}" y="{}">{}</text>',
        ((x(t), height - AXIS + 14, f"{t:g}") for t in _ticks(lo, hi)),
    )
    return format_html(
        '<svg class="spectrum-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" role="img" aria-label="{aria}">'
        '<rect class="spec-background" width="{w}" height="{h}"/>{bands}{bars}{lines}{axis}'
        '<text class="spec-unit" x="{unit_x}" y="{unit_y}">GHz</text></svg>',
        w=width,
        h=height,
        aria=f"Spectral coverage of {len(tracks)} rows, {lo:.1f} to {hi:.1f} GHz",
        bands=band_marks,
        bars=mark_safe("".join(bars)),  # built above: every text in it escaped
        lines=line_marks,
        axis=axis,
        unit_x=width - LEFT - 18,
        unit_y=height - 4,
    )


def _channel(hz: float) -> str:
    return f"{hz / 1e6:.3f} MHz" if hz >= 1e6 else f"{hz / 1e3:.1f} kHz"


def _resolution(window: Window, lines: Sequence[MarkedLine]) -> str:
    covered = [m for m in lines if window.covers(m.observed_ghz)]
    return "".join(f"; {m.name}: {window.resolution_kms(m.observed_ghz):.2f} km/s" for m in covered)
