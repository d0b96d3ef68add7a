"""The one place that states the mirror's units and converts archive values into them.

``Observation`` stores every quantity in ``CANONICAL_UNITS``; the loader converts on the way in
and nothing converts on the way out, so a number read from the mirror always means the same
thing. ALMA's own documentation disagrees with its data in places (``bandwidth`` is documented
in GHz but delivered in Hz; ``s_resolution`` is documented in degrees but delivered in arcsec),
so the canonical units below follow the data.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import astropy.units as u
from astropy.time import Time

CANONICAL_UNITS: dict[str, str] = {
    "s_ra": "deg",
    "s_dec": "deg",
    "s_fov": "deg",
    "gal_longitude": "deg",
    "gal_latitude": "deg",
    "s_resolution": "arcsec",
    "spatial_resolution": "arcsec",
    "spatial_scale_max": "arcsec",
    "frequency": "GHz",
    "bandwidth": "Hz",
    "spectral_resolution": "Hz",
    "em_min": "m",
    "em_max": "m",
    "em_resolution": "m",
    "velocity_resolution": "m/s",
    "t_min": "d",
    "t_max": "d",  # MJD
    "t_exptime": "s",
    "t_resolution": "s",
    "sensitivity_10kms": "mJy/beam",
    "cont_sensitivity_bandwidth": "mJy/beam",
    "pwv": "mm",
    "access_estsize": "kbyte",
}

# The units users see in the form and tables where they differ from storage.
DISPLAY_UNITS: dict[str, str] = {
    "s_fov": "arcsec",
    "bandwidth": "GHz",
    "spectral_resolution": "kHz",
}

# ALMA's placeholder for "not delivered yet": a release date that means proprietary.
PLACEHOLDER_RELEASE_YEAR = 3000


def convert(value: float, from_unit: str, column: str) -> float:
    """Convert ``value`` in ``from_unit`` into ``column``'s canonical unit."""
    target = CANONICAL_UNITS[column]
    if not from_unit or from_unit == target:
        return value
    return (value * u.Unit(from_unit)).to_value(u.Unit(target), equivalencies=u.spectral())


def to_display(value: float | None, column: str) -> float | None:
    """A stored value in the unit users read (arcsec for s_fov, GHz for bandwidth, ...)."""
    if value is None or column not in DISPLAY_UNITS:
        return value
    return (value * u.Unit(CANONICAL_UNITS[column])).to_value(u.Unit(DISPLAY_UNITS[column]))


def from_display(value: float, column: str) -> float:
    """A value typed in the display unit, converted to storage (for the search form)."""
    if column not in DISPLAY_UNITS:
        return value
    return (value * u.Unit(DISPLAY_UNITS[column])).to_value(u.Unit(CANONICAL_UNITS[column]))


def unit_vector(ra_deg: float, dec_deg: float) -> tuple[float, float, float]:
    """Cartesian unit vector of a sky position: cone searches become a dot product."""
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    return (math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec))


def band_mask(band_list: str) -> int:
    """``'3 6'`` -> bit 3 | bit 6: whole-token band matching (band 1 never matches 10)."""
    mask = 0
    for token in (band_list or "").replace(",", " ").split():
        if token.isdigit() and 1 <= int(token) <= 10:
            mask |= 1 << int(token)
    return mask


def bands_of(mask: int) -> list[int]:
    return [b for b in range(1, 11) if mask & (1 << b)]


def mjd_to_datetime(mjd: float) -> datetime:
    return Time(mjd, format="mjd", scale="utc").to_datetime(timezone=UTC)


def date_to_mjd(value: date | datetime) -> float:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return float(Time(value).mjd)


def is_placeholder_release(value: datetime | None) -> bool:
    return value is None or value.year >= PLACEHOLDER_RELEASE_YEAR
