"""The raw view's columns: label, how a value is shown, and whether it sorts.

Units come from ``queries.units`` (``display_unit``/``display_scale``), where each quantity's
unit is declared once for the form and the tables alike. A member's choice is stored in
``ColumnPreference``; only names listed here are ever selected or sorted on, so a crafted
``sort`` or ``columns`` parameter cannot reach other columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from queries.units import (
    SPEED_OF_LIGHT_KM_S,
    display_scale,
    display_unit,
    is_placeholder_release,
    mjd_to_datetime,
)


def _fixed(digits: int) -> Callable[[object], str]:
    def show(v: object) -> str:
        return "" if v is None else f"{v:.{digits}f}"

    show.digits = digits  # queries.tables writes such a cell with one format call
    return show


def _date(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # ALMA's placeholder, by the same test the release rule uses (MemberOUS.is_released).
        return "not set" if is_placeholder_release(value) else value.strftime("%Y-%m-%d")
    return str(value)


def _mjd(value: object) -> str:
    return "" if value is None else mjd_to_datetime(float(value)).strftime("%Y-%m-%d %H:%M")


def _text(value: object) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    show: Callable[[object], str] = _text
    numeric: bool = False
    unit: str = field(default="", kw_only=True)  # only where it is no quantity's unit (UTC)

    def __post_init__(self) -> None:
        if not self.unit:
            object.__setattr__(self, "unit", display_unit(self.name))


C = Column
COLUMNS: tuple[Column, ...] = (
    C("proposal_id", "Project code"),
    C("target_name", "Source name"),
    C("s_ra", "RA", _fixed(5), True),
    C("s_dec", "Dec", _fixed(5), True),
    C("gal_longitude", "Gal. lon.", _fixed(4), True),
    C("gal_latitude", "Gal. lat.", _fixed(4), True),
    C("band_list", "Band"),
    C("frequency", "Frequency", _fixed(3), True),
    C("bandwidth", "Bandwidth", _fixed(3), True),
    C("spectral_resolution", "Spectral resolution", _fixed(1), True),
    C("spatial_resolution", "Ang. res.", _fixed(3), True),
    C("spatial_scale_max", "LAS", _fixed(2), True),
    C("s_fov", "FoV", _fixed(1), True),
    C("t_exptime", "Integration", _fixed(0), True),
    C("t_min", "Observation start", _mjd, True, unit="UTC"),
    C("obs_release_date", "Release date", _date, True),
    C("sensitivity_10kms", "Line sens. (10 km/s)", _fixed(3), True),
    C("cont_sensitivity_bandwidth", "Cont. sens.", _fixed(4), True),
    C("pwv", "PWV", _fixed(2), True),
    C("pol_states", "Polarisation"),
    C("is_mosaic", "Mosaic"),
    C("pi_name", "PI"),
    C("obs_title", "Project title"),
    C("scientific_category", "Category"),
    C("science_keyword", "Keywords"),
    C("member_ous_uid", "Member OUS"),
    C("group_ous_uid", "Group OUS"),
    C("asdm_uid", "ASDM"),
    C("data_rights", "Data rights"),
    C("obs_id", "Observation id"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
DEFAULT_COLUMNS = (
    "proposal_id",
    "target_name",
    "s_ra",
    "s_dec",
    "band_list",
    "frequency",
    "spatial_resolution",
    "spatial_scale_max",
    "t_exptime",
    "obs_release_date",
    "member_ous_uid",
)


def valid_columns(names) -> list[str]:
    chosen = [n for n in names if n in BY_NAME]
    return list(dict.fromkeys(chosen)) or list(DEFAULT_COLUMNS)


def display(column: Column, value: object) -> str:
    scale = display_scale(column.name)
    if value is not None and scale != 1.0:
        value = float(value) / scale
    return column.show(value)


# --- A member's display choices: sexagesimal or degrees, frequency or wavelength -------------

COORDINATES = ("degrees", "sexagesimal")
SPECTRAL = ("frequency", "wavelength")


def ra_hms(value: object) -> str:
    """Degrees -> ``hh:mm:ss.ss`` (plain arithmetic, rounded once: 50 rows cost nothing)."""
    if value is None:
        return ""
    total = round((float(value) % 360.0) / 15.0 * 3600.0, 2)
    if total >= 86400.0:
        total -= 86400.0
    hours, rest = divmod(total, 3600.0)
    minutes, seconds = divmod(rest, 60.0)
    return f"{int(hours):02d}:{int(minutes):02d}:{seconds:05.2f}"


def dec_dms(value: object) -> str:
    """Degrees -> ``±dd:mm:ss.s``."""
    if value is None:
        return ""
    sign = "-" if float(value) < 0 else "+"
    total = round(abs(float(value)) * 3600.0, 1)
    degrees, rest = divmod(total, 3600.0)
    minutes, seconds = divmod(rest, 60.0)
    return f"{sign}{int(degrees):02d}:{int(minutes):02d}:{seconds:04.1f}"


def _mm_of_ghz(value: object) -> str:
    # c / f: km/s over GHz is 1e-6 m, i.e. 1e-3 mm.
    return "" if not value else f"{SPEED_OF_LIGHT_KM_S / float(value) * 1e-3:.4f}"


_SEXAGESIMAL = {
    "s_ra": Column("s_ra", "RA", ra_hms, True, unit="h:m:s"),
    "s_dec": Column("s_dec", "Dec", dec_dms, True, unit="d:m:s"),
}
_WAVELENGTH = {"frequency": Column("frequency", "Wavelength", _mm_of_ghz, True, unit="mm")}


def displayed(names: list[str], *, coordinates: str, spectral: str) -> list[Column]:
    """The chosen columns as a member reads them: positions in degrees or sexagesimal, the
    frequency as frequency or wavelength (stored values and sorting are unchanged)."""
    swaps = {
        **(_SEXAGESIMAL if coordinates == "sexagesimal" else {}),
        **(_WAVELENGTH if spectral == "wavelength" else {}),
    }
    return [swaps.get(name, BY_NAME[name]) for name in names]
