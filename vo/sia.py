"""SIA 2.0 queries as ADQL over ``ivoa.obscore``: one translator, one geometry, one rule.

Each SIA parameter becomes an ADQL condition; several values of one parameter are ORed, different
parameters ANDed (SIA 2.0, section 2). Numbers are parsed here and written back as numbers,
strings are quoted with doubled quotes, so the ADQL that reaches ``vo.adql`` is well-formed by
construction; the translator then checks it like any other query. Units are SIA's: positions,
FOV in degrees, SPATRES in arcsec, BAND in metres, TIME in MJD, EXPTIME and TIMERES in seconds.
``POS=RANGE`` is taken as the polygon through its four corners (great-circle edges), which
differs from lines of constant declination by less than a footprint for the ranges people use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class SiaError(ValueError):
    """A parameter SIA cannot take: the message names it and the accepted form."""


def _numbers(name: str, text: str, count: int | None = None) -> list[float]:
    try:
        values = [float(t) for t in text.split()]
    except ValueError:
        raise SiaError(f"{name}={text[:60]!r}: expected numbers separated by spaces") from None
    if count is not None and len(values) != count:
        raise SiaError(f"{name}={text[:60]!r}: expected {count} numbers")
    if any(math.isnan(v) for v in values):
        raise SiaError(f"{name}={text[:60]!r}: NaN is not a value")
    return values


def _adql_number(value: float) -> str:
    return repr(float(value))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _interval(name: str, text: str, low_column: str, high_column: str | None = None) -> str:
    """``lo hi`` (either may be -Inf/+Inf): a value in it, or with two columns an overlap."""
    low, high = _numbers(name, text, 2)
    if low > high:
        raise SiaError(f"{name}={text[:60]!r}: the lower bound is above the upper")
    high_column = high_column or low_column
    parts = []
    if math.isfinite(high):
        parts.append(f"{low_column} <= {_adql_number(high)}")
    if math.isfinite(low):
        parts.append(f"{high_column} >= {_adql_number(low)}")
    return "(" + " AND ".join(parts) + ")" if parts else f"({low_column} IS NOT NULL)"


def _pos(text: str) -> str:
    words = text.split(None, 1)
    shape = words[0].upper() if words else ""
    rest = words[1] if len(words) > 1 else ""
    if shape == "CIRCLE":
        ra, dec, radius = _numbers("POS", rest, 3)
        region = f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r})"
    elif shape == "RANGE":
        ra1, ra2, dec1, dec2 = _numbers("POS", rest, 4)
        corners = [ra1, dec1, ra2, dec1, ra2, dec2, ra1, dec2]
        region = "POLYGON('ICRS', " + ", ".join(repr(v) for v in corners) + ")"
    elif shape == "POLYGON":
        values = _numbers("POS", rest)
        if len(values) < 6 or len(values) % 2:
            raise SiaError("POS=POLYGON takes at least three ra dec pairs")
        region = "POLYGON('ICRS', " + ", ".join(repr(v) for v in values) + ")"
    else:
        raise SiaError(
            f"POS={text[:60]!r}: use CIRCLE ra dec radius, RANGE ra1 ra2 dec1 dec2, or "
            "POLYGON ra1 dec1 ra2 dec2 ... (degrees)"
        )
    return f"1 = INTERSECTS({region}, s_region)"


INTERVALS = {
    "BAND": ("em_min", "em_max"),
    "TIME": ("t_min", "t_max"),
    "FOV": ("s_fov", None),
    "SPATRES": ("s_resolution", None),
    "EXPTIME": ("t_exptime", None),
    "TIMERES": ("t_resolution", None),
    "SPECRP": ("em_res_power", None),
}
EQUALITIES = {
    "ID": "obs_publisher_did",
    "COLLECTION": "obs_collection",
    "FACILITY": "facility_name",
    "INSTRUMENT": "instrument_name",
    "DPTYPE": "dataproduct_type",
    "TARGET": "target_name",
    "FORMAT": "access_format",
}
ACCEPTED = {"POS", "POL", "CALIB", "MAXREC", "RESPONSEFORMAT", *INTERVALS, *EQUALITIES}


def adql_for(params: Mapping[str, Sequence[str]]) -> str:
    """The ADQL for SIA parameters (names in any case, each with one or more values)."""
    conditions = []
    for raw_name, values in params.items():
        name = raw_name.upper()
        if name not in ACCEPTED:
            continue  # SIA: unknown parameters are ignored
        alternatives = []
        for value in values:
            value = value.strip()
            if not value:
                continue
            if name == "POS":
                alternatives.append(_pos(value))
            elif name in INTERVALS:
                alternatives.append(_interval(name, value, *INTERVALS[name]))
            elif name in EQUALITIES:
                alternatives.append(f"{EQUALITIES[name]} = {_quote(value)}")
            elif name == "POL":
                alternatives.append(f"pol_states LIKE {_quote('%/' + value.upper() + '/%')}")
            elif name == "CALIB":
                if not value.isdigit():
                    raise SiaError(f"CALIB={value[:20]!r}: a calibration level 0 to 4")
                alternatives.append(f"calib_level = {int(value)}")
        if alternatives:
            conditions.append("(" + " OR ".join(alternatives) + ")")
    where = " AND ".join(conditions) if conditions else "1 = 1"
    return f"SELECT * FROM ivoa.obscore WHERE {where}"
