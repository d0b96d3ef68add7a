"""The spectral view: one track per row with each of its windows, ALMA's bands marked, the
chosen lines at their observed frequencies, and the resolution at a covered line."""

from __future__ import annotations

import re

from queries.spectral import windows
from queries.spectrum import MarkedLine, Track, render

TWO_SIDEBANDS = windows(
    "[95.06..96.94GHz,1128.91kHz,1mJy/beam@10km/s,1uJy/beam@native, XX YY] U "
    "[107.06..108.94GHz,1128.91kHz,1mJy/beam@10km/s,1uJy/beam@native, XX YY]"
)


def test_each_row_is_a_track_with_each_of_its_windows():
    svg = str(render([Track("a", "row a", tuple(TWO_SIDEBANDS)), Track("b", "row b", ())], []))
    tracks = re.findall(r'<g class="spec-track" data-row="([^"]+)">(.*?)</g>', svg)
    assert [key for key, _ in tracks] == ["a", "b"]
    assert tracks[0][1].count('class="spec-window"') == 2
    assert "95.060 - 96.940 GHz, channel 1.129 MHz" in svg
    assert tracks[1][1] == ""


def test_the_bands_in_view_are_marked_and_the_others_are_not():
    svg = str(render([Track("a", "a", tuple(TWO_SIDEBANDS))]))
    assert "Band 3" in svg and "Band 6" not in svg


def test_a_chosen_line_is_drawn_and_a_window_covering_it_gives_its_resolution():
    line = MarkedLine("13CO(1-0)", 108.0)
    svg = str(render([Track("a", "a", tuple(TWO_SIDEBANDS))], [line]))
    assert svg.count('class="spec-line"') == 1 and "13CO(1-0)" in svg
    # 1128.91 kHz at 108 GHz is 3.13 km/s; the other window does not cover the line.
    assert svg.count("13CO(1-0): 3.13 km/s") == 1


def test_row_labels_are_escaped():
    svg = str(render([Track('"><script>', "<b>x</b>", tuple(TWO_SIDEBANDS))]))
    assert "<script>" not in svg and "<b>" not in svg


def test_a_band_barely_in_view_is_shaded_without_a_label_that_would_overprint():
    # Band 5 ends at 211 GHz where Band 6 begins: only a sliver of it is in view.
    svg = str(render([Track("a", "a", (windows("[211.20..230.00GHz,976.56kHz]")[0],))]))
    assert svg.count('class="spec-band"') == 2
    assert "Band 6" in svg and "Band 5" not in svg
