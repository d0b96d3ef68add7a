"""The line finder's catalogue and the arithmetic from a rest frequency to an observed one.

The catalogue (``queries/data/lines.csv``) is the bundled list of lines people search ALMA for,
with rest frequencies from CDMS and JPL; its header says which entry each value is from. A line
is named as people write it (``CO(3-2)``, ``co 3-2``, ``HCO+ (4-3)``, ``[CII]``): names match
without case, spaces or brackets around the transition.

Redshift and velocity: ``f_obs = f_rest / (1 + z)``; a velocity is taken as ``cz`` (km/s, the
optical convention that catalogues of systemic velocities use), so ``z = v / c``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from queries.units import SPEED_OF_LIGHT_KM_S

CATALOGUE = Path(__file__).resolve().parent / "data" / "lines.csv"
MAX_REDSHIFT = 20.0


@dataclass(frozen=True)
class Line:
    name: str
    species: str
    transition: str
    rest_ghz: float
    catalogue: str
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}  {self.rest_ghz:.4f} GHz"


def _key(name: str) -> str:
    return re.sub(r"[\s()]", "", name).lower()


@cache
def catalogue() -> tuple[Line, ...]:
    with CATALOGUE.open(newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return tuple(
            Line(
                r["name"],
                r["species"],
                r["transition"],
                float(r["rest_ghz"]),
                r["catalogue"],
                r["note"],
            )
            for r in rows
        )


@cache
def _by_key() -> dict[str, Line]:
    return {_key(line.name): line for line in catalogue()}


def find(name: str) -> Line | None:
    """The catalogue's line called ``name`` (any case and spacing), or None."""
    return _by_key().get(_key(name))


def observed_ghz(rest_ghz: float, *, redshift: float = 0.0) -> float:
    return rest_ghz / (1.0 + redshift)


def redshift_of_velocity(velocity_kms: float) -> float:
    """``z`` of a systemic velocity ``cz`` in km/s."""
    return velocity_kms / SPEED_OF_LIGHT_KM_S
