"""A deterministic, ALMA-like synthetic archive for scale tests and the benchmark.

``generate_archive(rows, seed=...)`` is pure (numpy, no database): the same ``rows`` and ``seed``
always give the same tables, column for column. ``write_archive`` stores them in one transaction:
PostgreSQL gets ``COPY`` (a million ObsCore rows in well under a minute), any other database
``bulk_create`` in batches. ``synthesize_archive`` does both.

Invariants the tests check:
- every project is ``is_synthetic`` and its code is ``YYYY.C.9NNNN.S``: the cycle prefixes are
  ALMA's real ones (2011.0 ... 2026.1) but the five-digit number is 90000-99999, a range ALMA's
  real projects are nowhere near (they stay below 05000 per cycle), so a synthetic code can
  never collide with a real one; ``SYNTHETIC_CODE_RE`` recognises them. UIDs use the
  ``Xf....`` block range (``uid://A001/Xf0000/X1`` for OUSs, ``uid://A002/Xf0000/X1`` for ASDMs)
  and files are ``is_synthetic`` with no bytes and no URL;
- the hierarchy is complete: project > science goal (1-4) > group OUS (1-2) > member OUS
  (12m, then 7m, then TP) > execution blocks (1-4); one ObsCore row per member OUS x source x
  spectral window, ``obs_id = <mous uid>.source.<target>.spw.<n>``;
- a science goal has one band and one tuning; frequencies lie inside the band's real range
  (``BAND_RANGES_GHZ``) and ``band_mask == 1 << band``;
- a member OUS is released exactly 365 days after its first observation (``t_min``), and is
  ``Proprietary`` while that instant is after ``now``;
- ``MemberOUS`` aggregates (band mask, counts, exposure, first ``t_min``, release, rights,
  array) are computed here from the same arrays as the rows, never by a later scan.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.core.management.color import no_style
from django.db import connections, models, transaction

from queries import models as qm
from queries.names import name_key

# Real ALMA receiver bands, GHz.
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
# Share of science goals per band: 3, 6 and 7 carry most of ALMA's observing.
BAND_POPULARITY: dict[int, float] = {
    1: 0.02,
    2: 0.01,
    3: 0.24,
    4: 0.05,
    5: 0.03,
    6: 0.28,
    7: 0.25,
    8: 0.05,
    9: 0.04,
    10: 0.03,
}
# Bands offered only from a cycle on; earlier draws fall back to band 3.
BAND_FIRST_CYCLE: dict[int, str] = {1: "2023.1", 2: "2025.1"}

SYNTHETIC_CODE_RE = re.compile(r"^\d{4}\.[0-9]\.9\d{4}\.S$")
PROJECT_NUMBER_BASE = 90000
PROJECT_NUMBERS_PER_CYCLE = 10000
UID_BLOCK_BASE = 0xF0000
UID_SERIALS_PER_BLOCK = 0x1000
RELEASE_DELAY = timedelta(days=365)
MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
SPEED_OF_LIGHT = 299_792_458.0  # m/s


@dataclass(frozen=True)
class Cycle:
    prefix: str  # "2019.1"
    start: datetime
    end: datetime
    weight: float


def _d(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


# ALMA's real proposal cycles and when they observed (no 2014 or 2020 calls; Cycle 7 ran long
# because of the 2020 shutdown). The last one stops at a fixed date so output never depends on
# the day it is generated.
CYCLES: tuple[Cycle, ...] = (
    Cycle("2011.0", _d(2011, 9, 30), _d(2013, 1, 1), 1.0),
    Cycle("2012.1", _d(2013, 1, 1), _d(2014, 6, 1), 2.0),
    Cycle("2013.1", _d(2014, 6, 1), _d(2015, 10, 1), 3.0),
    Cycle("2015.1", _d(2015, 10, 1), _d(2016, 10, 1), 4.0),
    Cycle("2016.1", _d(2016, 10, 1), _d(2017, 10, 1), 5.0),
    Cycle("2017.1", _d(2017, 10, 1), _d(2018, 10, 1), 5.0),
    Cycle("2018.1", _d(2018, 10, 1), _d(2019, 10, 1), 6.0),
    Cycle("2019.1", _d(2019, 10, 1), _d(2021, 10, 1), 6.0),
    Cycle("2021.1", _d(2021, 10, 1), _d(2022, 10, 1), 6.0),
    Cycle("2022.1", _d(2022, 10, 1), _d(2023, 10, 1), 7.0),
    Cycle("2023.1", _d(2023, 10, 1), _d(2024, 10, 1), 7.0),
    Cycle("2024.1", _d(2024, 10, 1), _d(2025, 10, 1), 7.0),
    Cycle("2025.1", _d(2025, 10, 1), _d(2026, 10, 1), 7.0),
    Cycle("2026.1", _d(2026, 10, 1), _d(2026, 11, 15), 1.0),
)


@dataclass(frozen=True)
class Field:
    """A popular patch of sky: many science goals point at it."""

    names: tuple[str, ...]  # spellings people use for it (the first is canonical)
    ra: float
    dec: float
    sigma_deg: float  # spread of pointings around the centre
    weight: float
    category: str
    survey_prefix: str = ""  # multi-source goals name sources <prefix><n> (deep fields)


FIELDS: tuple[Field, ...] = (
    Field(
        ("COSMOS", "cosmos", "COSMOS_field"),
        150.1192,
        2.2058,
        0.4,
        10,
        "Galaxy evolution",
        "COSMOS-",
    ),
    Field(
        ("GOODS-S", "GOODS_South", "HUDF"), 53.1227, -27.8059, 0.12, 7, "Galaxy evolution", "GS-"
    ),
    Field(("UDS", "SXDS"), 34.40, -5.20, 0.3, 4, "Galaxy evolution", "UDS-"),
    Field(
        ("Orion KL", "OMC1", "Orion_BN-KL", "orion"),
        83.8221,
        -5.3911,
        0.25,
        9,
        "ISM and star formation",
    ),
    Field(
        ("Sgr A*", "SgrA*", "Sgr_A_star", "GC"),
        266.4168,
        -29.0078,
        0.2,
        8,
        "ISM and star formation",
    ),
    Field(("Sgr B2", "SgrB2(N)", "Sgr_B2"), 266.8350, -28.3850, 0.05, 3, "ISM and star formation"),
    Field(("M83", "m83", "M83_CTR", "NGC 5236"), 204.2538, -29.8658, 0.05, 4, "Local Universe"),
    Field(
        ("NGC_1068", "NGC1068", "ngc 1068", "NGC-1068"),
        40.6696,
        -0.0133,
        0.01,
        4,
        "Active galaxies",
    ),
    Field(
        ("rho Oph", "Oph", "rho_Ophiuchi", "Elias 2-27"),
        246.79,
        -24.54,
        0.4,
        5,
        "Disks and planet formation",
    ),
    Field(("HL Tau", "HL_Tau", "Taurus"), 67.9102, 18.2327, 0.6, 3, "Disks and planet formation"),
    Field(
        ("TW Hya", "TW_Hya", "TWHya"), 165.4659, -34.7047, 0.001, 2, "Disks and planet formation"
    ),
    Field(("Lupus", "Lupus_3", "Sz 114"), 242.0, -39.0, 0.8, 3, "Disks and planet formation"),
    Field(("30 Dor", "30Dor", "LMC_N159", "LMC"), 84.6700, -69.1000, 0.8, 3, "Local Universe"),
    Field(("SMC_N66", "SMC", "NGC 346"), 14.77, -72.18, 0.6, 2, "Local Universe"),
    Field(
        ("Serpens Main", "Serpens", "SerpS-MM18"), 277.45, 1.25, 0.3, 2, "ISM and star formation"
    ),
    Field(("Arp 220", "Arp220", "ARP_220"), 233.7384, 23.5032, 0.005, 2, "Active galaxies"),
    Field(("Abell 1689", "A1689"), 197.8730, -1.3410, 0.05, 1, "Cosmology"),
    Field(
        ("IRC+10216", "CW Leo", "IRC_10216"),
        146.9892,
        13.2787,
        0.01,
        2,
        "Stars and stellar evolution",
    ),
)
# Share of science goals that point at one of FIELDS; the rest are spread over the sky ALMA sees.
CLUSTERED_SHARE = 0.6
ALMA_MAX_DEC = 47.0

CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Active galaxies": (
        "Active Galactic Nuclei (AGN)/Quasars (QSO)",
        "Outflows, jets, feedback",
        "Black holes",
        "Galactic centres/nuclei",
    ),
    "Cosmology": (
        "Gravitational lenses",
        "Galaxy Clusters",
        "Cosmic Microwave Background (CMB)/Sunyaev-Zel'dovich Effect (SZE)",
    ),
    "Disks and planet formation": (
        "Disks around low-mass stars",
        "Debris disks",
        "Exo-planets",
        "Disks around high-mass stars",
    ),
    "Galaxy evolution": (
        "Sub-mm Galaxies (SMG)",
        "Galaxy structure & evolution",
        "Lyman Break Galaxies (LBG)",
        "Surveys of galaxies",
        "Galaxy chemistry",
    ),
    "ISM and star formation": (
        "High-mass star formation",
        "Low-mass star formation",
        "Astrochemistry",
        "Pre-stellar cores",
        "Inter-Stellar Medium (ISM)/Molecular clouds",
    ),
    "Local Universe": (
        "Spiral galaxies",
        "Giant Molecular Clouds (GMC) properties",
        "Magellanic Clouds",
        "Starburst galaxies",
        "Dwarf/metal-poor galaxies",
    ),
    "Solar system": (
        "Solar system - Comets",
        "Solar system - Planetary atmospheres",
        "Solar system - Asteroids",
    ),
    "Stars and stellar evolution": (
        "Asymptotic Giant Branch (AGB) stars",
        "Evolved stars - Chemistry",
        "Main sequence stars",
        "Post-AGB stars",
    ),
    "Sun": ("The Sun",),
}
CATEGORIES = tuple(CATEGORY_KEYWORDS)
CATEGORY_WEIGHTS = (0.14, 0.04, 0.18, 0.2, 0.22, 0.12, 0.03, 0.06, 0.01)

TOPICS: dict[str, tuple[str, ...]] = {
    "Active galaxies": (
        "AGN feedback",
        "circumnuclear disks",
        "molecular tori",
        "jet-driven outflows",
        "black hole masses",
    ),
    "Cosmology": (
        "the Sunyaev-Zeldovich effect",
        "strongly lensed galaxies",
        "line intensity mapping",
        "cluster cores",
    ),
    "Disks and planet formation": (
        "protoplanetary disk substructures",
        "dust rings and gaps",
        "disk winds",
        "CO snowlines",
        "circumplanetary disks",
        "debris belts",
    ),
    "Galaxy evolution": (
        "dust-obscured star formation",
        "molecular gas reservoirs",
        "[CII] emission",
        "submillimetre galaxies",
        "quiescent galaxies",
        "Lyman-break galaxies",
    ),
    "ISM and star formation": (
        "hot molecular cores",
        "protostellar outflows",
        "filament fragmentation",
        "infrared dark clouds",
        "prestellar cores",
        "complex organic molecules",
    ),
    "Local Universe": (
        "giant molecular clouds",
        "spiral arm star formation",
        "dense gas fractions",
        "the resolved star formation law",
    ),
    "Solar system": ("cometary volatiles", "Titan's atmosphere", "asteroid thermal emission"),
    "Stars and stellar evolution": (
        "AGB envelopes",
        "evolved star winds",
        "stellar chromospheres",
        "SiO masers",
    ),
    "Sun": ("the solar chromosphere", "sunspot umbrae", "flare millimetre emission"),
}
TITLE_OPENINGS = (
    "A high-resolution survey of",
    "A sensitive search for",
    "Resolving",
    "Mapping",
    "Probing",
    "Unveiling",
    "A deep census of",
    "The first images of",
    "Kinematics of",
    "The chemistry of",
    "Tracing",
    "Constraining",
)
LINES = (
    "CO(2-1)",
    "CO(3-2)",
    "[CII] 158um",
    "HCN(4-3)",
    "HCO+(3-2)",
    "SiO(5-4)",
    "13CO(2-1)",
    "C18O(2-1)",
    "N2H+(1-0)",
    "CS(7-6)",
    "H2CO",
    "CH3OH",
    "dust continuum",
    "[NII] 205um",
)
ABSTRACT_SENTENCES = (
    "We propose to observe {topic} towards {target} with ALMA in Band {band}.",
    "Our previous observations revealed {topic} on scales of a few hundred au.",
    "The {line} line will trace the kinematics of the dense gas at unprecedented resolution.",
    "These data will test competing models of {topic} and measure its physical conditions.",
    "Combined with archival data, the survey will constrain the gas temperature and density.",
    "We request {hours} hours to reach a sensitivity sufficient to detect the faint emission.",
    "The sample was selected from recent surveys to span a broad range of luminosities.",
    "Continuum emission will map the dust distribution and its spectral index.",
    "This programme builds a legacy data set for the community.",
    "Polarisation and line data together will reveal the role of magnetic fields.",
)
SURNAMES = (
    "Nakamura",
    "Garcia",
    "Smith",
    "Müller",
    "Rossi",
    "Kim",
    "Chen",
    "Dubois",
    "Silva",
    "Kowalski",
    "Andersson",
    "Okafor",
    "Yamada",
    "Novak",
    "Fernandez",
    "Walker",
    "Singh",
    "Ivanova",
    "Takahashi",
    "Bianchi",
    "Schmidt",
    "Martin",
    "Lopez",
    "Wang",
    "Li",
    "O'Brien",
    "Hansen",
    "Petrov",
    "Costa",
    "Nguyen",
    "Cortes",
    "Hatsukade",
    "Villard",
    "Leroy",
    "Tan",
    "Zhang",
    "Evans",
    "Moreno",
    "Ahmed",
    "Jensen",
)
GIVEN = (
    "A.",
    "B.",
    "C.",
    "D.",
    "E.",
    "F.",
    "G.",
    "H.",
    "I.",
    "J.",
    "K.",
    "L.",
    "M.",
    "N.",
    "P.",
    "R.",
    "S.",
    "T.",
    "V.",
    "Y.",
)
ANTENNAS = {
    "12m": "A001:DA41 A002:DA42 A011:DV12 A017:DV05 A023:DA55 A031:PM02 A045:DV20 A060:DA48",
    "7m": "J501:CM01 J502:CM02 J505:CM05 J507:CM07 J510:CM10 J512:CM12",
    "TP": "T701:PM01 T702:PM02 T703:PM03 T704:PM04",
}
ARRAYS = ("12m", "7m", "TP")
# Galactic rotation (ICRS unit vector -> Galactic unit vector), IAU 1958 / Hipparcos.
_ICRS_TO_GAL = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [0.4941094278755837, -0.4448296299600112, 0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, 0.4559837761750669],
    ]
)


# Not ``queries.units``: its astropy ``Time`` conversions take ~0.5 ms a value (the generator
# converts one per member OUS) and its array form rounds differently from these.
def mjd_to_datetime(mjd: float) -> datetime:
    return MJD_EPOCH + timedelta(days=mjd)


def datetime_to_mjd(when: datetime) -> float:
    return (when - MJD_EPOCH).total_seconds() / 86400.0


def uid(archive: str, serial: int) -> str:
    """``uid://A001/Xf0000/X1``-style uid in the synthetic block range."""
    block = UID_BLOCK_BASE + serial // UID_SERIALS_PER_BLOCK
    return f"uid://{archive}/X{block:x}/X{serial % UID_SERIALS_PER_BLOCK + 1:x}"


def uid_in_file_name(value: str) -> str:
    return value.replace(":", "_").replace("/", "_")


@dataclass
class Table:
    """Column-wise rows for one model: ``columns[attname]`` is a list, one value per row."""

    model: type[models.Model]
    columns: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["id"]) if self.columns else 0


@dataclass
class SynthArchive:
    """Every table the generator fills, in insertion (foreign key) order."""

    tables: list[Table]

    def table(self, model: type[models.Model]) -> Table:
        return next(t for t in self.tables if t.model is model)

    def counts(self) -> dict[str, int]:
        return {t.model._meta.model_name: len(t) for t in self.tables}


def _choice(rng: np.random.Generator, values: Sequence[Any], p: Sequence[float], n: int):
    p = np.asarray(p, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=n, p=p / p.sum())]


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Start index of each group in the flattened child array (none for no groups)."""
    return (np.cumsum(counts) - counts).astype(np.int64)


def _fmt_hms_name(ra: float, dec: float) -> str:
    h = ra / 15.0
    sign = "+" if dec >= 0 else "-"
    ad = abs(dec)
    return f"J{int(h):02d}{int((h % 1) * 60):02d}{sign}{int(ad):02d}{int((ad % 1) * 60):02d}"


def generate_archive(
    rows: int, *, seed: int, now: datetime | None = None, id_start: dict[type, int] | None = None
) -> SynthArchive:
    """Build ``rows`` ObsCore rows and their hierarchy; the same arguments give the same output.

    ``now`` only decides ``data_rights`` (release instant after ``now`` = Proprietary).
    ``id_start`` maps a model to its first primary key (default 1 for every table). The builders
    share one random generator, so they run in this order and no other: each draw a builder
    makes shifts every draw after it.
    """
    plan = plan_archive(rows, seed=seed)
    ids = _Ids(id_start or {})
    rng = plan.rng
    goals = build_science_goals(plan, rng=rng, ids=ids)
    projects = build_projects(plan, goals, rng=rng, ids=ids)
    sources = place_sources(plan, goals, rng=rng)
    groups = build_group_ouses(plan, goals, ids=ids)
    members = build_member_ouses(
        plan, goals, sources, rng=rng, now=now or datetime.now(UTC), ids=ids
    )
    blocks = build_execution_blocks(members, sources, ids=ids)
    files = build_files(members, blocks, projects, rng=rng, ids=ids)
    observations = build_observations(
        plan, projects, goals, sources, groups, members, blocks, rng=rng, seed=seed, ids=ids
    )
    return SynthArchive(
        [projects, goals.table, groups, members.table, blocks.table, files, observations]
    )


@dataclass
class Plan:
    """The hierarchy's shape: parent indexes per level and the row count per member OUS."""

    rng: np.random.Generator
    p_cycle: np.ndarray
    p_number: np.ndarray
    sg_proj: np.ndarray
    g_sg: np.ndarray
    m_g: np.ndarray
    m_array: np.ndarray
    sg_nsrc: np.ndarray
    sg_nspw: np.ndarray
    m_rows: np.ndarray


def plan_archive(rows: int, *, seed: int) -> Plan:
    """The hierarchy for ``rows`` ObsCore rows, its generator positioned for the builders."""
    if rows < 0:
        raise ValueError(f"rows: must be 0 or more, got {rows}")
    # Rows per project average about 30; start generous and double until the rows fit.
    n_projects = rows // 12 + 8
    while (plan := _plan_hierarchy(rows, seed=seed, n_projects=n_projects)) is None:
        n_projects *= 2
    return plan


@dataclass(frozen=True)
class _Ids:
    """Primary keys: each table counts up from its ``id_start`` (default 1)."""

    start: dict[type, int]

    def __call__(self, model: type[models.Model], n: int) -> np.ndarray:
        return np.arange(n, dtype=np.int64) + self.start.get(model, 1)


def _plan_hierarchy(rows: int, *, seed: int, n_projects: int) -> Plan | None:
    rng = np.random.default_rng(seed)
    n_p = n_projects
    cycle_w = [c.weight for c in CYCLES]
    p_cycle = _choice(rng, range(len(CYCLES)), cycle_w, n_p)
    p_nsg = _choice(rng, [1, 2, 3, 4], [0.6, 0.25, 0.1, 0.05], n_p)
    sg_proj = np.repeat(np.arange(n_p), p_nsg)
    n_sg = len(sg_proj)
    sg_ngous = _choice(rng, [1, 2], [0.9, 0.1], n_sg)
    g_sg = np.repeat(np.arange(n_sg), sg_ngous)
    n_g = len(g_sg)
    g_nmous = _choice(rng, [1, 2, 3], [0.6, 0.25, 0.15], n_g)
    m_g = np.repeat(np.arange(n_g), g_nmous)
    m_array = np.arange(len(m_g)) - _offsets(g_nmous)[m_g]  # 0 = 12m, 1 = 7m, 2 = TP
    # Sources and spectral windows belong to the science goal (its target list and tuning).
    sg_nsrc = np.where(
        rng.random(n_sg) < 0.55,
        1,
        np.where(rng.random(n_sg) < 0.8, rng.integers(2, 6, n_sg), rng.integers(6, 21, n_sg)),
    )
    sg_nspw = _choice(rng, [1, 2, 3, 4, 5, 6, 8], [0.03, 0.03, 0.04, 0.8, 0.03, 0.04, 0.03], n_sg)
    m_sg = g_sg[m_g]
    m_rows = (sg_nsrc * sg_nspw)[m_sg].astype(np.int64)
    cum = np.cumsum(m_rows)
    if rows and (len(cum) == 0 or cum[-1] < rows):
        return None
    # Project numbers count up within each cycle, in generation order.
    p_number = np.zeros(n_p, dtype=np.int64)
    for c in range(len(CYCLES)):
        mask = p_cycle == c
        p_number[mask] = np.arange(int(mask.sum()))
    if rows == 0:
        last_m = -1
        m_rows = m_rows[:0]
    else:
        last_m = int(np.searchsorted(cum, rows))
        m_rows = m_rows[: last_m + 1].copy()
        m_rows[-1] -= int(cum[last_m] - rows)
    n_m = last_m + 1
    n_g_keep = int(m_g[last_m]) + 1 if n_m else 0
    n_sg_keep = int(g_sg[n_g_keep - 1]) + 1 if n_m else 0
    n_p_keep = int(sg_proj[n_sg_keep - 1]) + 1 if n_m else 0
    if n_p_keep and int(p_number[:n_p_keep].max()) >= PROJECT_NUMBERS_PER_CYCLE:
        raise ValueError(
            f"rows: {rows} needs more than {PROJECT_NUMBERS_PER_CYCLE} synthetic projects in one "
            "cycle (numbers 90000-99999); use fewer rows"
        )
    return Plan(
        rng=rng,
        p_cycle=p_cycle[:n_p_keep],
        p_number=p_number[:n_p_keep],
        sg_proj=sg_proj[:n_sg_keep],
        g_sg=g_sg[:n_g_keep],
        m_g=m_g[:n_m],
        m_array=m_array[:n_m],
        sg_nsrc=sg_nsrc[:n_sg_keep],
        sg_nspw=sg_nspw[:n_sg_keep],
        m_rows=m_rows,
    )


def _project_texts(
    rng: np.random.Generator, p_field: np.ndarray, p_band: np.ndarray
) -> dict[str, list]:
    """Title, abstract, people and keywords; a project on a popular field takes its category."""
    n_p = len(p_field)
    cat_idx = _choice(rng, range(len(CATEGORIES)), CATEGORY_WEIGHTS, n_p)
    r = rng.integers(0, 1 << 30, size=(n_p, 12))
    titles, abstracts, pis, userids, authors, keywords, categories = [], [], [], [], [], [], []
    for i in range(n_p):
        fi = int(p_field[i])
        cat = FIELDS[fi].category if fi >= 0 else CATEGORIES[int(cat_idx[i])]
        topics = TOPICS[cat]
        topic = topics[r[i, 0] % len(topics)]
        target = FIELDS[fi].names[0] if fi >= 0 else "a sample of sources"
        titles.append(f"{TITLE_OPENINGS[r[i, 2] % len(TITLE_OPENINGS)]} {topic} in {target}")
        n_sent = 3 + r[i, 3] % 4
        first = r[i, 4] % len(ABSTRACT_SENTENCES)
        sentences = [
            ABSTRACT_SENTENCES[(first + k * 3) % len(ABSTRACT_SENTENCES)] for k in range(n_sent)
        ]
        abstracts.append(
            " ".join(sentences).format(
                topic=topic,
                target=target,
                band=int(p_band[i]),
                line=LINES[r[i, 6] % len(LINES)],
                hours=1 + r[i, 7] % 40,
            )
        )
        surname = SURNAMES[r[i, 8] % len(SURNAMES)]
        given = GIVEN[r[i, 9] % len(GIVEN)]
        pis.append(f"{surname}, {given}")
        userids.append(f"{given[0].lower()}{name_key(surname)}{r[i, 8] % 7}")
        co = [
            f"{SURNAMES[(r[i, 10] >> (5 * k)) % len(SURNAMES)]}, {GIVEN[(r[i, 11] >> k) % 20]}"
            for k in range(1 + r[i, 10] % 5)
        ]
        authors.append("; ".join([pis[-1], *co]))
        kws = CATEGORY_KEYWORDS[cat]
        k1 = kws[r[i, 11] % len(kws)]
        k2 = kws[(r[i, 11] // 7) % len(kws)]
        keywords.append(k1 if k1 == k2 else f"{k1}, {k2}")
        categories.append(cat)
    return {
        "title": titles,
        "abstract": abstracts,
        "pi_name": pis,
        "pi_userid": userids,
        "proposal_authors": authors,
        "science_keyword": keywords,
        "scientific_category": categories,
    }


@dataclass
class Goals:
    """The science goals' table and what later tables read of each goal (index = goal)."""

    table: Table
    ids: np.ndarray
    band: np.ndarray
    freq: np.ndarray  # GHz, (goal, window): up to 8 spectral windows per goal
    bw: np.ndarray  # Hz
    chan: np.ndarray  # Hz
    sens: np.ndarray  # mJy/beam in 10 km/s
    mosaic: np.ndarray
    mosaic_fov: np.ndarray  # deg
    field: np.ndarray  # index into FIELDS, -1 for a pointing anywhere


def build_science_goals(plan: Plan, *, rng: np.random.Generator, ids: _Ids) -> Goals:
    """One band and one tuning per goal (windows inside the band), and where it points.

    A band offered only from a later cycle (``BAND_FIRST_CYCLE``) falls back to band 3.
    """
    n_sg = len(plan.sg_proj)
    sg_ids = ids(qm.ScienceGoal, n_sg)
    sg_cycle = plan.p_cycle[plan.sg_proj]
    bands = np.array(list(BAND_POPULARITY))
    sg_band = _choice(rng, bands, list(BAND_POPULARITY.values()), n_sg)
    cycle_prefixes = np.array([c.prefix for c in CYCLES])
    for band, first in BAND_FIRST_CYCLE.items():
        first_idx = int(np.where(cycle_prefixes == first)[0][0])
        sg_band = np.where((sg_band == band) & (sg_cycle < first_idx), 3, sg_band)
    # UID serials: science goals, group and member OUSs share the A001 namespace, goals first.
    table = Table(
        qm.ScienceGoal,
        {
            "id": sg_ids.tolist(),
            "project_id": ids(qm.Project, len(plan.p_cycle))[plan.sg_proj].tolist(),
            "uid": [uid("A001", s) for s in range(n_sg)],
            "name": [
                f"Band {b} goal {k}" for b, k in zip(sg_band.tolist(), range(n_sg), strict=True)
            ],
        },
    )

    # Spectral windows: up to 8 per goal, centred inside the band, widths as the correlator has.
    bw_choices = np.array([1.875e9, 0.9375e9, 0.46875e9, 0.234375e9, 0.1171875e9, 0.05859375e9])
    sg_bw = bw_choices[_choice(rng, range(6), [0.5, 0.15, 0.12, 0.1, 0.08, 0.05], n_sg * 8)]
    sg_bw = sg_bw.reshape(n_sg, 8)
    lo = np.array([BAND_RANGES_GHZ[int(b)][0] for b in sg_band])[:, None]
    hi = np.array([BAND_RANGES_GHZ[int(b)][1] for b in sg_band])[:, None]
    half = sg_bw / 2e9
    # One local oscillator per goal; windows sit 4-8 GHz either side of it (two sidebands).
    lo_osc = lo + rng.random((n_sg, 1)) * (hi - lo)
    side = np.where(rng.random((n_sg, 8)) < 0.5, -1.0, 1.0)
    sg_freq = lo_osc + side * rng.uniform(4.0, 8.0, (n_sg, 8))
    sg_freq = np.clip(sg_freq, lo + half, hi - half)
    chan_choices = np.array([15.625e6, 976.5625e3, 488.28125e3, 244.140625e3, 122.0703125e3])
    sg_chan = chan_choices[_choice(rng, range(5), [0.3, 0.3, 0.15, 0.15, 0.1], n_sg * 8)]
    sg_chan = sg_chan.reshape(n_sg, 8)
    sg_sens = np.exp(rng.normal(0.0, 0.8, (n_sg, 8)))
    sg_mosaic = rng.random(n_sg) < 0.15
    sg_mosaic_fov = 0.01 + rng.random(n_sg) * 0.25

    # Pointing: a popular field, or anywhere ALMA can see.
    fweights = np.array([f.weight for f in FIELDS], dtype=float)
    sg_field = np.where(
        rng.random(n_sg) < CLUSTERED_SHARE,
        rng.choice(len(FIELDS), size=n_sg, p=fweights / fweights.sum()),
        -1,
    )
    return Goals(
        table=table,
        ids=sg_ids,
        band=sg_band,
        freq=sg_freq,
        bw=sg_bw,
        chan=sg_chan,
        sens=sg_sens,
        mosaic=sg_mosaic,
        mosaic_fov=sg_mosaic_fov,
        field=sg_field,
    )


def build_projects(plan: Plan, goals: Goals, *, rng: np.random.Generator, ids: _Ids) -> Table:
    """Codes in the synthetic number range; texts name the field of the first science goal."""
    n_p = len(plan.p_cycle)
    codes = [
        f"{CYCLES[c].prefix}.{PROJECT_NUMBER_BASE + num:05d}.S"
        for c, num in zip(plan.p_cycle.tolist(), plan.p_number.tolist(), strict=True)
    ]
    first_sg = _offsets(np.bincount(plan.sg_proj, minlength=n_p))
    texts = _project_texts(rng, goals.field[first_sg], goals.band[first_sg])
    projects = Table(qm.Project, {"id": ids(qm.Project, n_p).tolist(), "code": codes, **texts})
    projects.columns["is_synthetic"] = [True] * n_p
    return projects


@dataclass
class Sources:
    """Every goal's sources, goal after goal (a member OUS observes a run of its goal's)."""

    names: list[str]
    keys: list[str]
    slugs: list[str]
    ra: np.ndarray
    dec: np.ndarray
    vec: np.ndarray  # ICRS unit vectors, (source, xyz)
    gal_l: np.ndarray
    gal_b: np.ndarray


def place_sources(plan: Plan, goals: Goals, *, rng: np.random.Generator) -> Sources:
    """Positions scattered around the goal's field (or a random centre ALMA can see) and names
    unique within a goal: the field's own spellings, a survey prefix, or a J-name."""
    n_sg = len(plan.sg_proj)
    bg_z = rng.uniform(-1.0, math.sin(math.radians(ALMA_MAX_DEC)), n_sg)
    bg_ra = rng.uniform(0.0, 360.0, n_sg)
    bg_dec = np.degrees(np.arcsin(bg_z))
    n_src_total = int(plan.sg_nsrc.sum())
    src_sg = np.repeat(np.arange(n_sg), plan.sg_nsrc)
    src_local = np.arange(n_src_total) - _offsets(plan.sg_nsrc)[src_sg]
    f_idx = goals.field[src_sg]
    is_field = f_idx >= 0
    f_ra = np.array([f.ra for f in FIELDS])[np.maximum(f_idx, 0)]
    f_dec = np.array([f.dec for f in FIELDS])[np.maximum(f_idx, 0)]
    f_sig = np.array([f.sigma_deg for f in FIELDS])[np.maximum(f_idx, 0)]
    d_dec = rng.normal(0.0, 1.0, n_src_total)
    d_ra = rng.normal(0.0, 1.0, n_src_total)
    sigma = np.where(is_field, f_sig, np.where(plan.sg_nsrc[src_sg] > 5, 0.5, 0.05))
    sigma = np.where(src_local == 0, np.where(is_field, sigma, 0.0), sigma)
    c_ra = np.where(is_field, f_ra, bg_ra[src_sg])
    c_dec = np.where(is_field, f_dec, bg_dec[src_sg])
    src_dec = np.clip(c_dec + d_dec * sigma, -89.999, 89.999)
    src_ra = np.mod(c_ra + d_ra * sigma / np.cos(np.radians(src_dec)), 360.0)
    src_names: list[str] = []
    seen: set[str] = set()
    name_pick = rng.integers(0, 1 << 30, n_src_total)
    for s in range(n_src_total):
        sg = int(src_sg[s])
        if int(src_local[s]) == 0:
            seen = set()
        fi = int(f_idx[s])
        if fi >= 0:
            fld = FIELDS[fi]
            variant = fld.names[int(name_pick[s]) % len(fld.names)]
            if plan.sg_nsrc[sg] == 1:
                name = variant
            elif fld.survey_prefix:
                name = f"{fld.survey_prefix}{s}"
            else:
                name = f"{variant}_{int(src_local[s]) + 1}"
        else:
            name = _fmt_hms_name(float(src_ra[s]), float(src_dec[s]))
        while name in seen:
            name = f"{name}_b"
        seen.add(name)
        src_names.append(name)
    rr, dr = np.radians(src_ra), np.radians(src_dec)
    src_vec = np.stack([np.cos(dr) * np.cos(rr), np.cos(dr) * np.sin(rr), np.sin(dr)], axis=1)
    gal = src_vec @ _ICRS_TO_GAL.T
    return Sources(
        names=src_names,
        keys=[name_key(n) for n in src_names],  # the loader's own key
        slugs=[n.replace(" ", "_") for n in src_names],
        ra=src_ra,
        dec=src_dec,
        vec=src_vec,
        gal_l=np.mod(np.degrees(np.arctan2(gal[:, 1], gal[:, 0])), 360.0),
        gal_b=np.degrees(np.arcsin(np.clip(gal[:, 2], -1, 1))),
    )


def build_group_ouses(plan: Plan, goals: Goals, *, ids: _Ids) -> Table:
    """One or two group OUSs per science goal; their UIDs follow the goals' in A001."""
    n_g = len(plan.g_sg)
    n_sg = len(plan.sg_proj)
    return Table(
        qm.GroupOUS,
        {
            "id": ids(qm.GroupOUS, n_g).tolist(),
            "uid": [uid("A001", n_sg + s) for s in range(n_g)],
            "project_id": ids(qm.Project, len(plan.p_cycle))[plan.sg_proj[plan.g_sg]].tolist(),
            "science_goal_id": goals.ids[plan.g_sg].tolist(),
        },
    )


@dataclass
class Members:
    """The member OUSs' table and what later tables read of each member OUS (index = MOUS)."""

    table: Table
    ids: np.ndarray
    uids: list[str]
    sg: np.ndarray
    proj: np.ndarray
    band: np.ndarray
    nspw: np.ndarray
    n_blocks: np.ndarray
    src_exptime: np.ndarray  # s per source
    tmin: np.ndarray  # MJD of the first observation
    release: list[datetime]
    rights: list[str]
    arrays: list[str]
    src_offset: np.ndarray  # index of its first source in ``Sources``


def build_member_ouses(
    plan: Plan,
    goals: Goals,
    sources: Sources,
    *,
    rng: np.random.Generator,
    now: datetime,
    ids: _Ids,
) -> Members:
    """Observed inside the project's cycle, released ``RELEASE_DELAY`` after the first
    observation (Proprietary while that is after ``now``), with their aggregates computed from
    the same arrays as the rows."""
    n_m = len(plan.m_g)
    n_sg, n_g = len(plan.sg_proj), len(plan.g_sg)
    m_ids = ids(qm.MemberOUS, n_m)
    m_uids = [uid("A001", n_sg + n_g + s) for s in range(n_m)]
    m_sg = plan.g_sg[plan.m_g]
    m_proj = plan.sg_proj[m_sg]
    m_cycle = plan.p_cycle[m_proj]
    c_start = np.array([datetime_to_mjd(c.start) for c in CYCLES])[m_cycle]
    c_end = np.array([datetime_to_mjd(c.end) for c in CYCLES])[m_cycle]
    m_tmin = np.round(c_start + rng.random(n_m) * (c_end - c_start - 0.2), 6)
    m_band = goals.band[m_sg]
    m_nspw = plan.sg_nspw[m_sg]
    m_nsrc = -(-plan.m_rows // m_nspw)  # the last MOUS may have been cut short
    m_neb = _choice(rng, [1, 2, 3, 4], [0.45, 0.3, 0.15, 0.1], n_m)
    m_exptime_total = np.round(np.exp(rng.normal(math.log(2400.0), 0.8, n_m)), 2)
    m_src_exptime = np.round(m_exptime_total / m_nsrc, 2)
    m_exptime = np.round(m_src_exptime * m_nsrc, 2)
    m_release = [mjd_to_datetime(t) + RELEASE_DELAY for t in m_tmin.tolist()]
    m_rights = ["Proprietary" if r > now else "Public" for r in m_release]
    m_arrays = [ARRAYS[int(a)] for a in plan.m_array]
    m_src_offset = _offsets(plan.sg_nsrc)[m_sg]
    m_targets = [
        ", ".join(sources.names[o : o + n])
        for o, n in zip(m_src_offset.tolist(), m_nsrc.tolist(), strict=True)
    ]
    table = Table(
        qm.MemberOUS,
        {
            "id": m_ids.tolist(),
            "uid": m_uids,
            "project_id": ids(qm.Project, len(plan.p_cycle))[m_proj].tolist(),
            "group_ous_id": ids(qm.GroupOUS, n_g)[plan.m_g].tolist(),
            "release_date": m_release,
            "data_rights": m_rights,
            "band_mask": (1 << m_band).tolist(),
            "n_observations": plan.m_rows.tolist(),
            "n_sources": m_nsrc.tolist(),
            "target_names": m_targets,
            "t_exptime": m_exptime.tolist(),
            "t_min": m_tmin.tolist(),
            "antenna_array": m_arrays,
        },
    )
    return Members(
        table=table,
        ids=m_ids,
        uids=m_uids,
        sg=m_sg,
        proj=m_proj,
        band=m_band,
        nspw=m_nspw,
        n_blocks=m_neb,
        src_exptime=m_src_exptime,
        tmin=m_tmin,
        release=m_release,
        rights=m_rights,
        arrays=m_arrays,
        src_offset=m_src_offset,
    )


@dataclass
class Blocks:
    """The execution blocks' table, each member OUS's first block and its scheduling block."""

    table: Table
    ids: np.ndarray
    uids: list[str]
    first: np.ndarray  # index of each member OUS's first block
    schedblock_names: list[str]  # per member OUS


def build_execution_blocks(members: Members, sources: Sources, *, ids: _Ids) -> Blocks:
    """One to four blocks per member OUS (A002 UIDs), named after its first source, band and
    array as ALMA's scheduling blocks are."""
    n_m = len(members.uids)
    n_eb = int(members.n_blocks.sum())
    eb_m = np.repeat(np.arange(n_m), members.n_blocks)
    eb_ids = ids(qm.ExecutionBlock, n_eb)
    eb_uids = [uid("A002", s) for s in range(n_eb)]
    sb_names = [
        f"{sources.slugs[int(members.src_offset[m])]}_a_{int(members.band[m]):02d}_"
        f"{members.arrays[m]}"
        for m in range(n_m)
    ]
    table = Table(
        qm.ExecutionBlock,
        {
            "id": eb_ids.tolist(),
            "asdm_uid": eb_uids,
            "member_ous_id": members.ids[eb_m].tolist(),
            "schedblock_name": [sb_names[int(m)] for m in eb_m],
        },
    )
    return Blocks(
        table=table,
        ids=eb_ids,
        uids=eb_uids,
        first=_offsets(members.n_blocks),
        schedblock_names=sb_names,
    )


def build_files(
    members: Members, blocks: Blocks, projects: Table, *, rng: np.random.Generator, ids: _Ids
) -> Table:
    """Per member OUS: product tars, one auxiliary tar, a README, one raw tar per block."""
    n_m = len(members.uids)
    f_cols: dict[str, list] = {
        k: [] for k in ("member_ous_id", "name", "category", "size", "content_type", "semantics")
    }
    f_cols["execution_block_id"] = []
    n_products = _choice(rng, [1, 2, 3], [0.8, 0.15, 0.05], n_m)
    product_gb = np.exp(rng.normal(math.log(3.0), 1.2, n_m))
    raw_gb = np.exp(rng.normal(math.log(30.0), 0.9, len(blocks.uids)))
    codes = projects.columns["code"]
    for m in range(n_m):
        code = codes[int(members.proj[m])]
        mous_f, mid = uid_in_file_name(members.uids[m]), int(members.ids[m])
        k = int(n_products[m])
        for j in range(k):
            f_cols["name"].append(f"{code}_{mous_f}_{j + 1:03d}_of_{k:03d}.tar")
            f_cols["category"].append(qm.FileCategory.PRODUCT.value)
            f_cols["size"].append(int(product_gb[m] * 1e9 / k))
            f_cols["semantics"].append("#this")
        f_cols["name"].append(f"{code}_{mous_f}_auxiliary.tar")
        f_cols["category"].append(qm.FileCategory.AUXILIARY.value)
        f_cols["size"].append(int(product_gb[m] * 1e8) + 50_000_000)
        f_cols["semantics"].append("#auxiliary")
        f_cols["name"].append(f"member.{mous_f}.README.txt")
        f_cols["category"].append(qm.FileCategory.README.value)
        f_cols["size"].append(8_000 + mid % 9_000)
        f_cols["semantics"].append("#documentation")
        f_cols["execution_block_id"].extend([None] * (k + 2))
        f_cols["content_type"].extend(["application/x-tar"] * (k + 1) + ["text/plain"])
        first = int(blocks.first[m])
        for e in range(first, first + int(members.n_blocks[m])):
            f_cols["name"].append(f"{code}_{uid_in_file_name(blocks.uids[e])}.asdm.sdm.tar")
            f_cols["category"].append(qm.FileCategory.RAW.value)
            f_cols["size"].append(int(raw_gb[e] * 1e9))
            f_cols["semantics"].append("#progenitor")
            f_cols["execution_block_id"].append(int(blocks.ids[e]))
            f_cols["content_type"].append("application/x-tar")
        f_cols["member_ous_id"].extend([mid] * (k + 2 + int(members.n_blocks[m])))
    n_files = len(f_cols["name"])
    f_cols["id"] = ids(qm.ArchiveFile, n_files).tolist()
    f_cols["is_synthetic"] = [True] * n_files
    return Table(qm.ArchiveFile, f_cols)


def _frequency_support(plan: Plan, goals: Goals) -> list[str]:
    """ALMA's ``frequency_support`` text of each goal: one ``[lo..hi GHz, ...]`` per window."""
    support = []
    for s in range(len(plan.sg_proj)):
        parts = []
        for j in range(int(plan.sg_nspw[s])):
            f0 = goals.freq[s, j] - goals.bw[s, j] / 2e9
            f1 = goals.freq[s, j] + goals.bw[s, j] / 2e9
            parts.append(
                f"[{f0:.2f}..{f1:.2f}GHz,{goals.chan[s, j] / 1e3:.2f}kHz,"
                f"{goals.sens[s, j]:.2f}mJy/beam@10km/s,{goals.sens[s, j] * 40:.1f}uJy/beam@native,"
                " XX YY]"
            )
        support.append(" U ".join(parts))
    return support


def build_observations(
    plan: Plan,
    projects: Table,
    goals: Goals,
    sources: Sources,
    groups: Table,
    members: Members,
    blocks: Blocks,
    *,
    rng: np.random.Generator,
    seed: int,
    ids: _Ids,
) -> Table:
    """One ObsCore row per member OUS x source x spectral window, every column derived from the
    tables above (so a row and its member OUS, project and goal always agree)."""
    n_m = len(members.uids)
    n_rows = int(plan.m_rows.sum())
    row_m = np.repeat(np.arange(n_m), plan.m_rows)
    k = np.arange(n_rows) - _offsets(plan.m_rows)[row_m]
    nspw_r = members.nspw[row_m]
    row_src = members.src_offset[row_m] + k // nspw_r
    row_j = k % nspw_r
    row_sg = members.sg[row_m]
    row_band = members.band[row_m]
    freq = np.round(goals.freq[row_sg, row_j], 6)
    bw = goals.bw[row_sg, row_j]
    chan = goals.chan[row_sg, row_j]
    arr = plan.m_array[row_m]
    # Primary beam FWHM: 58" at 100 GHz for a 12 m dish (TP too), 99" for a 7 m dish.
    beam_deg = np.where(arr == 1, 99.0, 58.0) * (100.0 / freq) / 3600.0
    mosaic = goals.mosaic[row_sg] | (arr == 2)
    s_fov = np.round(np.where(mosaic, np.maximum(goals.mosaic_fov[row_sg], beam_deg), beam_deg), 7)
    m_res100 = np.where(
        plan.m_array == 0,
        np.exp(rng.uniform(math.log(0.04), math.log(3.4), n_m)),
        np.where(plan.m_array == 1, 12.5, 56.0),
    )
    res = np.round(m_res100[row_m] * 100.0 / freq, 5)
    las = np.round(
        np.where(
            arr == 0,
            res * rng.uniform(6, 12, n_rows),
            np.where(arr == 1, 66.0 * 100.0 / freq, s_fov * 3600.0),
        ),
        4,
    )
    t_min = np.round(members.tmin[row_m] + (k // nspw_r) * 0.002, 6)
    src_exp = members.src_exptime[row_m]
    t_max = np.round(t_min + src_exp * 1.5 / 86400.0, 6)
    sens = goals.sens[row_sg, row_j] * np.sqrt(2400.0 / np.maximum(src_exp, 60.0))
    pwv_max = np.array([0, 5, 5, 4, 3, 2.5, 2, 1.2, 0.8, 0.6, 0.5])[row_band]
    pwv = np.round(0.2 + rng.random(n_rows) * pwv_max, 3)

    row_m_l = row_m.tolist()
    row_src_l = row_src.tolist()
    spw_base = np.array([16, 25, 17, 19])[members.sg % 4]
    spw_n = (spw_base[row_m] + 2 * row_j).tolist()
    obs_ids = [
        f"{members.uids[m]}.source.{sources.slugs[s]}.spw.{n}"
        for m, s, n in zip(row_m_l, row_src_l, spw_n, strict=True)
    ]
    ra_r = np.round(sources.ra[row_src], 7)
    dec_r = np.round(sources.dec[row_src], 7)
    regions = [
        f"Circle ICRS {a:.6f} {d:.6f} {f / 2:.6f}"
        for a, d, f in zip(ra_r.tolist(), dec_r.tolist(), s_fov.tolist(), strict=True)
    ]
    proj_r = members.proj[row_m]
    m_first_asdm = [blocks.uids[int(o)] for o in blocks.first]
    m_last_modified = [r - RELEASE_DELAY + timedelta(days=30) for r in members.release]
    g_uid_m = [groups.columns["uid"][int(g)] for g in plan.m_g]
    p = projects.columns
    proj_l = proj_r.tolist()
    band_l = row_band.tolist()

    def per_row(values: list, index: list[int]) -> list:
        return [values[i] for i in index]

    return Table(
        qm.Observation,
        {
            "id": ids(qm.Observation, n_rows).tolist(),
            "obs_id": obs_ids,
            "obs_publisher_did": [f"ADS/JAO.ALMA#{p['code'][i]}" for i in proj_l],
            "obs_collection": ["ALMA"] * n_rows,
            "facility_name": ["JAO"] * n_rows,
            "instrument_name": ["ALMA"] * n_rows,
            "dataproduct_type": ["cube"] * n_rows,
            "calib_level": [2] * n_rows,
            "proposal_id": per_row(p["code"], proj_l),
            "group_ous_uid": per_row(g_uid_m, row_m_l),
            "member_ous_uid": per_row(members.uids, row_m_l),
            "asdm_uid": per_row(m_first_asdm, row_m_l),
            "schedblock_name": per_row(blocks.schedblock_names, row_m_l),
            "project_id": np.asarray(p["id"], dtype=np.int64)[proj_r].tolist(),
            "member_ous_id": members.ids[row_m].tolist(),
            "target_name": per_row(sources.names, row_src_l),
            "target_name_key": per_row(sources.keys, row_src_l),
            "s_ra": ra_r.tolist(),
            "s_dec": dec_r.tolist(),
            "s_x": sources.vec[row_src, 0].tolist(),
            "s_y": sources.vec[row_src, 1].tolist(),
            "s_z": sources.vec[row_src, 2].tolist(),
            "s_fov": s_fov.tolist(),
            "s_region": regions,
            "s_resolution": res.tolist(),
            "gal_longitude": np.round(sources.gal_l[row_src], 6).tolist(),
            "gal_latitude": np.round(sources.gal_b[row_src], 6).tolist(),
            "spatial_resolution": res.tolist(),
            "spatial_scale_max": las.tolist(),
            "is_mosaic": np.where(mosaic, "T", "F").tolist(),
            "band_list": [str(b) for b in band_l],
            "band_mask": (1 << row_band).tolist(),
            "frequency": freq.tolist(),
            "frequency_support": per_row(_frequency_support(plan, goals), row_sg.tolist()),
            "bandwidth": bw.tolist(),
            "spectral_resolution": chan.tolist(),
            "em_min": (SPEED_OF_LIGHT / (freq * 1e9 + bw / 2)).tolist(),
            "em_max": (SPEED_OF_LIGHT / (freq * 1e9 - bw / 2)).tolist(),
            "em_res_power": np.round(freq * 1e9 / chan, 3).tolist(),
            "em_resolution": (SPEED_OF_LIGHT * chan / (freq * 1e9) ** 2).tolist(),
            "em_xel": np.round(bw / chan).astype(np.int64).tolist(),
            "velocity_resolution": np.round(SPEED_OF_LIGHT * chan / (freq * 1e9), 3).tolist(),
            "sensitivity_10kms": np.round(sens, 4).tolist(),
            "cont_sensitivity_bandwidth": np.round(sens * 0.04, 5).tolist(),
            "t_min": t_min.tolist(),
            "t_max": t_max.tolist(),
            "t_exptime": src_exp.tolist(),
            "obs_release_date": per_row(members.release, row_m_l),
            "last_modified": per_row(m_last_modified, row_m_l),
            "pol_states": ["/XX/YY/"] * n_rows,
            "pol_xel": [2] * n_rows,
            "o_ucd": ["phot.flux.density;phys.polarization"] * n_rows,
            "pwv": pwv.tolist(),
            "antenna_arrays": [ANTENNAS[members.arrays[m]] for m in row_m_l],
            "scan_intent": ["TARGET"] * n_rows,
            "science_observation": ["T"] * n_rows,
            "qa2_passed": ["T"] * n_rows,
            "type": ["S"] * n_rows,
            "access_format": ["application/x-votable+xml;content=datalink"] * n_rows,
            "data_rights": per_row(members.rights, row_m_l),
            "obs_title": per_row(p["title"], proj_l),
            "obs_creator_name": per_row(p["pi_name"], proj_l),
            "pi_name": per_row(p["pi_name"], proj_l),
            "pi_userid": per_row(p["pi_userid"], proj_l),
            "proposal_abstract": per_row(p["abstract"], proj_l),
            "proposal_authors": per_row(p["proposal_authors"], proj_l),
            "science_keyword": per_row(p["science_keyword"], proj_l),
            "scientific_category": per_row(p["scientific_category"], proj_l),
            "source_file": [f"synth_archive --seed {seed}"] * n_rows,
        },
    )


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthResult:
    counts: dict[str, int]
    vendor: str


GENERATED_MODELS: tuple[type[models.Model], ...] = (
    qm.Project,
    qm.ScienceGoal,
    qm.GroupOUS,
    qm.MemberOUS,
    qm.ExecutionBlock,
    qm.ArchiveFile,
    qm.Observation,
)


def synthetic_projects(using: str = "default") -> models.QuerySet[qm.Project]:
    """Projects this generator made (the sample archive's own synthetic projects are not)."""
    return qm.Project.objects.using(using).filter(
        is_synthetic=True, code__regex=SYNTHETIC_CODE_RE.pattern
    )


def delete_synthetic_archive(*, using: str = "default") -> int:
    """Remove everything a previous run made; returns the number of projects removed."""
    with transaction.atomic(using=using):
        projects = synthetic_projects(using)
        # Observations and files first, as single DELETEs, so the project cascade stays small.
        qm.Observation.objects.using(using).filter(project__in=projects).delete()
        qm.ArchiveFile.objects.using(using).filter(member_ous__project__in=projects).delete()
        count = projects.count()
        projects.delete()
    return count


def _next_ids(using: str) -> dict[type, int]:
    out = {}
    for model in GENERATED_MODELS:
        top = model.objects.using(using).aggregate(top=models.Max("pk"))["top"]
        out[model] = (top or 0) + 1
    return out


def _lock_tables(using: str) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return  # SQLite's IMMEDIATE transactions already hold the write lock.
    names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in GENERATED_MODELS)
    with connection.cursor() as cursor:
        # Nobody else may insert while we hand out primary keys ourselves.
        cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")


def _full_rows(table: Table, using: str) -> tuple[list[str], Iterable[tuple]]:
    """Every concrete column, generated values or the field's default, in model field order."""
    connection = connections[using]
    names, columns = [], []
    n = len(table)
    for f in table.model._meta.concrete_fields:
        names.append(f.column)
        if f.attname in table.columns:
            columns.append(table.columns[f.attname])
        else:
            default = None if f.null else f.get_db_prep_save(f.get_default(), connection)
            columns.append(itertools.repeat(default, n))
    return names, zip(*columns)  # noqa: B905 (repeat() is endless by design)


def _copy(table: Table, using: str) -> None:
    connection = connections[using]
    names, rows = _full_rows(table, using)
    quoted = ", ".join(connection.ops.quote_name(c) for c in names)
    sql = f"COPY {connection.ops.quote_name(table.model._meta.db_table)} ({quoted}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _bulk_create(table: Table, using: str, batch_size: int) -> None:
    attnames = list(table.columns)
    values = [table.columns[a] for a in attnames]
    model = table.model
    n = len(table)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        objs = [
            model(**{a: v[i] for a, v in zip(attnames, values, strict=True)})
            for i in range(start, stop)
        ]
        model.objects.using(using).bulk_create(objs, batch_size=batch_size)


def write_archive(archive: SynthArchive, *, using: str = "default", batch_size: int = 5000) -> None:
    """Insert the tables as they are (primary keys included); the caller holds the transaction."""
    connection = connections[using]
    for table in archive.tables:
        if not len(table):
            continue
        if connection.vendor == "postgresql":
            _copy(table, using)
        else:
            _bulk_create(table, using, batch_size)
    if connection.vendor == "postgresql":
        # Explicit ids left the identity sequences behind: move them past the new rows.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(GENERATED_MODELS)):
                cursor.execute(sql)


def synthesize_archive(
    rows: int,
    *,
    seed: int,
    batch_size: int = 5000,
    replace: bool = False,
    now: datetime | None = None,
    using: str = "default",
) -> SynthResult:
    """Generate and store ``rows`` synthetic ObsCore rows, all or nothing.

    Refuses (``ValueError``) when an earlier run's projects are present unless ``replace``.
    """
    if batch_size < 1:
        raise ValueError(f"batch: must be 1 or more, got {batch_size}")
    with transaction.atomic(using=using):
        _lock_tables(using)
        if synthetic_projects(using).exists():
            if not replace:
                raise ValueError(
                    "synthetic projects (codes YYYY.C.9NNNN.S) are already loaded; "
                    "pass --replace to remove them first"
                )
            delete_synthetic_archive(using=using)
        archive = generate_archive(rows, seed=seed, now=now, id_start=_next_ids(using))
        write_archive(archive, using=using, batch_size=batch_size)
    return SynthResult(counts=archive.counts(), vendor=connections[using].vendor)
