"""The one place that states the mirror's units, the units people read, and time as MJD.

``Observation`` stores every quantity in ``CANONICAL_UNITS``; the loader converts on the way in,
so a number read from the mirror always means the same thing. ALMA's own documentation disagrees
with its data in places (``bandwidth`` is documented in GHz but delivered in Hz; ``s_resolution``
is documented in degrees but delivered in arcsec), so the canonical units below follow the data.
The search form and the result tables use ``display_unit`` and ``display_scale`` of the same
column, so a quantity's unit is declared once, here. Times are MJD (UTC days since
``MJD_EPOCH``) by plain arithmetic, which agrees with astropy's ``Time`` except on a day that
ends with a leap second, where they differ by up to a second (tests/queries/test_units.py).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from functools import cache

import astropy.units as u
from astropy.constants import c as _c

# Velocities of lines and channels (radio convention) use astropy's value of c, in km/s.
SPEED_OF_LIGHT_KM_S: float = _c.to_value(u.km / u.s)

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

# The units users type in the form and read in the tables, where they differ from storage.
DISPLAY_UNITS: dict[str, str] = {
    "s_fov": "arcsec",
    "bandwidth": "GHz",
    "spectral_resolution": "kHz",
}
MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)  # MJD 0.0

# ALMA's placeholder for "not delivered yet": a release date that means proprietary.
PLACEHOLDER_RELEASE_YEAR = 3000


def convert(value: float, from_unit: str, column: str) -> float:
    """Convert ``value`` in ``from_unit`` into ``column``'s canonical unit."""
    target = CANONICAL_UNITS[column]
    if not from_unit or from_unit == target:
        return value
    return (value * u.Unit(from_unit)).to_value(u.Unit(target), equivalencies=u.spectral())


def display_unit(column: str) -> str:
    """The unit people type and read for ``column`` ("" for a column that is no quantity)."""
    return DISPLAY_UNITS.get(column) or CANONICAL_UNITS.get(column, "")


@cache
def display_scale(column: str) -> float:
    """Stored value per displayed unit: typed * scale = stored, stored / scale = shown."""
    if column not in DISPLAY_UNITS:
        return 1.0
    return u.Unit(DISPLAY_UNITS[column]).to(u.Unit(CANONICAL_UNITS[column]))


def unit_vector(ra_deg: float, dec_deg: float) -> tuple[float, float, float]:
    """Cartesian unit vector of a sky position: cone searches become a dot product."""
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    return (math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec))


def galactic_to_icrs(l_deg: float, b_deg: float) -> tuple[float, float]:
    """Galactic (l, b) as ICRS (RA, Dec) in degrees: cones are searched in ICRS everywhere."""
    # Imported here: astropy.coordinates costs 0.4 s to import and only galactic searches use it.
    from astropy.coordinates import SkyCoord

    icrs = SkyCoord(l=l_deg, b=b_deg, unit="deg", frame="galactic").icrs
    return float(icrs.ra.deg), float(icrs.dec.deg)


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
    """An MJD as an aware UTC datetime (to the microsecond)."""
    return MJD_EPOCH + timedelta(days=float(mjd))


def datetime_to_mjd(value: date | datetime) -> float:
    """A datetime (naive means UTC) or a day (its midnight UTC) as an MJD."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - MJD_EPOCH) / timedelta(days=1)


def is_placeholder_release(value: datetime | None) -> bool:
    return value is None or value.year >= PLACEHOLDER_RELEASE_YEAR
