"""Reading ALMA's frequency_support into spectral windows: every window with its range and
channel width, in ALMA's order; a text cut short keeps the windows that arrived whole."""

from __future__ import annotations

import csv

import pytest

from queries.spectral import Window, windows
from tests.archive_replay import OBSCORE_UNION

REAL = (
    "[95.06..96.94GHz,1128.91kHz,769.7uJy/beam@10km/s,31.8uJy/beam@native, XX YY] U "
    "[96.84..98.71GHz,1128.91kHz,763uJy/beam@10km/s,31.8uJy/beam@native, XX YY] U "
    "[107.06..108.94GHz,1128.91kHz,743.4uJy/beam@10km/s,32.6uJy/beam@native, XX YY] U "
    "[108.84..110.71GHz,1128.91kHz,788.1uJy/beam@10km/s,34.8uJy/beam@native, XX YY]"
)


def test_each_window_of_a_real_row_is_read_with_its_range_and_channel_width():
    assert windows(REAL) == [
        Window(95.06, 96.94, 1128910.0),
        Window(96.84, 98.71, 1128910.0),
        Window(107.06, 108.94, 1128910.0),
        Window(108.84, 110.71, 1128910.0),
    ]


def test_a_window_covers_its_edges_and_not_the_gap_between_windows():
    first, second, third, _ = windows(REAL)
    assert first.covers(95.06) and first.covers(96.94)
    # 100 GHz lies between the two sidebands: inside em_min..em_max, in no window.
    assert not any(w.covers(100.0) for w in windows(REAL))
    assert third.covers(108.0) and not second.covers(108.0)


def test_the_channel_width_reads_as_a_velocity_at_the_line():
    (window,) = windows("[345.0..346.9GHz,488.28kHz,1mJy/beam@10km/s,0.1mJy/beam@native, XX]")
    assert window.resolution_kms(345.796) == pytest.approx(0.4233, abs=1e-4)


def test_a_text_cut_short_keeps_the_whole_windows_and_never_guesses_the_rest():
    assert windows("[239.50..241.37GHz,976.56kHz,1.7mJy/beam@10km/...") == [
        Window(239.50, 241.37, 976560.0)
    ]
    assert windows("[239.50..241.37GHz,97") == []
    assert windows("") == windows(None) == []


def test_every_complete_real_alma_row_lists_the_window_its_own_em_range_describes():
    """An ObsCore row is one spectral window (obs_id ``...spw.<n>``) with its em_min..em_max,
    while frequency_support lists every window of the tuning: the row's own is among them."""
    with OBSCORE_UNION.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if not r["frequency_support"].endswith("...")]
    assert len(rows) > 400
    for row in rows:
        # em_min/em_max are wavelengths in metres.
        lo_ghz = 299792458 / float(row["em_max"]) / 1e9
        hi_ghz = 299792458 / float(row["em_min"]) / 1e9
        found = windows(row["frequency_support"])
        assert any(w.lo_ghz < hi_ghz and w.hi_ghz > lo_ghz for w in found), row["obs_id"]


@pytest.mark.django_db
def test_with_the_cache_down_windows_are_rebuilt_and_the_widest_read_from_them(monkeypatch):
    """Redis unreachable: a harvest's window rebuild does not fail after writing the windows,
    and the line filter reads the widest window from the mirror instead of failing."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from queries import spectral
    from queries.models import SpectralWindow
    from tests.factories import ObservationFactory

    ObservationFactory(
        frequency_support="[230.00..232.00GHz,976.56kHz,1.3mJy/beam@10km/s,XX YY]",
        em_min=0.001292,
        em_max=0.001303,
    )

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    from django.core.cache import cache

    for method in ("get", "set"):
        monkeypatch.setattr(cache, method, down)
    spectral.rebuild_windows()
    (window,) = SpectralWindow.objects.all()
    assert 1.9 < window.hi_ghz - window.lo_ghz <= 2.0
    assert spectral.widest_window_ghz() == pytest.approx(window.hi_ghz - window.lo_ghz)
