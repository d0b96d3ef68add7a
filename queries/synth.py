"""A deterministic, ALMA-like synthetic archive for scale tests and the benchmark.

``generate_archive(rows, seed=...)`` is pure (numpy, no database): the same ``rows`` and ``seed``
always give the same tables, column for column. ``write_archive`` stores them in one transaction:
PostgreSQL gets ``COPY`` (a million ObsCore rows in well under a minute), any other database
``bulk_create`` in batches. ``synthesize_archive`` does both; on PostgreSQL it builds each
table while the ones before it are stored (``write_while_building``).

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
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from astropy import constants
from django.core.management.color import no_style
from django.db import connections, models, transaction

from archiveportal.read_ahead import read_ahead
from queries import bulk_indexes, pending_indexes
from queries import models as qm
from queries.hierarchy import refresh_summaries
from queries.names import name_key
from queries.positions import refresh_positions
from queries.spectral import BAND_RANGES_GHZ, rebuild_windows
from queries.staging import copy_binary
from queries.units import datetime_to_mjd, mjd_to_datetime

# Share of science goals per band 1 to 10: 3, 6 and 7 carry most of ALMA's observing.
BAND_SHARES = (0.02, 0.01, 0.24, 0.05, 0.03, 0.28, 0.25, 0.05, 0.04, 0.03)
# Bands offered only from a cycle on; earlier draws fall back to band 3.
BAND_FIRST_CYCLE: dict[int, str] = {1: "2023.1", 2: "2025.1"}

SYNTHETIC_CODE_RE = re.compile(r"^\d{4}\.[0-9]\.9\d{4}\.S$")
PROJECT_NUMBER_BASE = 90000
PROJECT_NUMBERS_PER_CYCLE = 10000
UID_BLOCK_BASE = 0xF0000
UID_SERIALS_PER_BLOCK = 0x1000
RELEASE_DELAY = timedelta(days=365)


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

    spellings: str  # the names people use for it, "|" between them (the first is canonical)
    ra: float
    dec: float
    sigma_deg: float  # spread of pointings around the centre
    weight: float
    category: str
    survey_prefix: str = ""  # multi-source goals name sources <prefix><n> (deep fields)

    @property
    def names(self) -> list[str]:
        return self.spellings.split("|")


FIELDS: tuple[Field, ...] = (
    Field("COSMOS|cosmos|COSMOS_field", 150.1192, 2.2058, 0.4, 10, "Galaxy evolution", "COSMOS-"),
    Field("GOODS-S|GOODS_South|HUDF", 53.1227, -27.8059, 0.12, 7, "Galaxy evolution", "GS-"),
    Field("UDS|SXDS", 34.40, -5.20, 0.3, 4, "Galaxy evolution", "UDS-"),
    Field("Orion KL|OMC1|Orion_BN-KL|orion", 83.8221, -5.3911, 0.25, 9, "ISM and star formation"),
    Field("Sgr A*|SgrA*|Sgr_A_star|GC", 266.4168, -29.0078, 0.2, 8, "ISM and star formation"),
    Field("Sgr B2|SgrB2(N)|Sgr_B2", 266.8350, -28.3850, 0.05, 3, "ISM and star formation"),
    Field("M83|m83|M83_CTR|NGC 5236", 204.2538, -29.8658, 0.05, 4, "Local Universe"),
    Field("NGC_1068|NGC1068|ngc 1068|NGC-1068", 40.6696, -0.0133, 0.01, 4, "Active galaxies"),
    Field(
        "rho Oph|Oph|rho_Ophiuchi|Elias 2-27", 246.79, -24.54, 0.4, 5, "Disks and planet formation"
    ),
    Field("HL Tau|HL_Tau|Taurus", 67.9102, 18.2327, 0.6, 3, "Disks and planet formation"),
    Field("TW Hya|TW_Hya|TWHya", 165.4659, -34.7047, 0.001, 2, "Disks and planet formation"),
    Field("Lupus|Lupus_3|Sz 114", 242.0, -39.0, 0.8, 3, "Disks and planet formation"),
    Field("30 Dor|30Dor|LMC_N159|LMC", 84.6700, -69.1000, 0.8, 3, "Local Universe"),
    Field("SMC_N66|SMC|NGC 346", 14.77, -72.18, 0.6, 2, "Local Universe"),
    Field("Serpens Main|Serpens|SerpS-MM18", 277.45, 1.25, 0.3, 2, "ISM and star formation"),
    Field("Arp 220|Arp220|ARP_220", 233.7384, 23.5032, 0.005, 2, "Active galaxies"),
    Field("Abell 1689|A1689", 197.8730, -1.3410, 0.05, 1, "Cosmology"),
    Field("IRC+10216|CW Leo|IRC_10216", 146.9892, 13.2787, 0.01, 2, "Stars and stellar evolution"),
)
# Share of science goals that point at one of FIELDS; the rest are spread over the sky ALMA sees.
CLUSTERED_SHARE = 0.6
ALMA_MAX_DEC = 47.0

# Per category, "; " between items: ALMA's science keywords, and the topics titles are made of.
_KEYWORDS_AND_TOPICS: dict[str, tuple[str, str]] = {
    "Active galaxies": (
        "Active Galactic Nuclei (AGN)/Quasars (QSO); Outflows, jets, feedback; Black holes; "
        "Galactic centres/nuclei",
        "AGN feedback; circumnuclear disks; molecular tori; jet-driven outflows; black hole masses",
    ),
    "Cosmology": (
        "Gravitational lenses; Galaxy Clusters; "
        "Cosmic Microwave Background (CMB)/Sunyaev-Zel'dovich Effect (SZE)",
        "the Sunyaev-Zeldovich effect; strongly lensed galaxies; line intensity mapping; "
        "cluster cores",
    ),
    "Disks and planet formation": (
        "Disks around low-mass stars; Debris disks; Exo-planets; Disks around high-mass stars",
        "protoplanetary disk substructures; dust rings and gaps; disk winds; CO snowlines; "
        "circumplanetary disks; debris belts",
    ),
    "Galaxy evolution": (
        "Sub-mm Galaxies (SMG); Galaxy structure & evolution; Lyman Break Galaxies (LBG); "
        "Surveys of galaxies; Galaxy chemistry",
        "dust-obscured star formation; molecular gas reservoirs; [CII] emission; "
        "submillimetre galaxies; quiescent galaxies; Lyman-break galaxies",
    ),
    "ISM and star formation": (
        "High-mass star formation; Low-mass star formation; Astrochemistry; Pre-stellar cores; "
        "Inter-Stellar Medium (ISM)/Molecular clouds",
        "hot molecular cores; protostellar outflows; filament fragmentation; "
        "infrared dark clouds; prestellar cores; complex organic molecules",
    ),
    "Local Universe": (
        "Spiral galaxies; Giant Molecular Clouds (GMC) properties; Magellanic Clouds; "
        "Starburst galaxies; Dwarf/metal-poor galaxies",
        "giant molecular clouds; spiral arm star formation; dense gas fractions; "
        "the resolved star formation law",
    ),
    "Solar system": (
        "Solar system - Comets; Solar system - Planetary atmospheres; Solar system - Asteroids",
        "cometary volatiles; Titan's atmosphere; asteroid thermal emission",
    ),
    "Stars and stellar evolution": (
        "Asymptotic Giant Branch (AGB) stars; Evolved stars - Chemistry; Main sequence stars; "
        "Post-AGB stars",
        "AGB envelopes; evolved star winds; stellar chromospheres; SiO masers",
    ),
    "Sun": ("The Sun", "the solar chromosphere; sunspot umbrae; flare millimetre emission"),
}
CATEGORY_KEYWORDS = {c: tuple(k.split("; ")) for c, (k, _) in _KEYWORDS_AND_TOPICS.items()}
TOPICS = {c: tuple(t.split("; ")) for c, (_, t) in _KEYWORDS_AND_TOPICS.items()}
CATEGORIES = tuple(CATEGORY_KEYWORDS)
CATEGORY_WEIGHTS = (0.14, 0.04, 0.18, 0.2, 0.22, 0.12, 0.03, 0.06, 0.01)

TITLE_OPENINGS = tuple(
    "A high-resolution survey of; A sensitive search for; Resolving; Mapping; Probing; "
    "Unveiling; A deep census of; The first images of; Kinematics of; The chemistry of; Tracing; "
    "Constraining".split("; ")
)
LINES = tuple(
    "CO(2-1); CO(3-2); [CII] 158um; HCN(4-3); HCO+(3-2); SiO(5-4); 13CO(2-1); C18O(2-1); "
    "N2H+(1-0); CS(7-6); H2CO; CH3OH; dust continuum; [NII] 205um".split("; ")
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
SURNAMES = tuple(
    "Nakamura Garcia Smith Müller Rossi Kim Chen Dubois Silva Kowalski Andersson Okafor Yamada "
    "Novak Fernandez Walker Singh Ivanova Takahashi Bianchi Schmidt Martin Lopez Wang Li O'Brien "
    "Hansen Petrov Costa Nguyen Cortes Hatsukade Villard Leroy Tan Zhang Evans Moreno Ahmed "
    "Jensen".split()
)
GIVEN = tuple(f"{initial}." for initial in "ABCDEFGHIJKLMNPRSTVY")
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


def generate_archive(
    rows: int, *, seed: int, now: datetime | None = None, id_start: dict[type, int] | None = None
) -> SynthArchive:
    """Build ``rows`` ObsCore rows and their hierarchy; the same arguments give the same output.

    ``now`` only decides ``data_rights`` (release instant after ``now`` = Proprietary).
    ``id_start`` maps a model to its first primary key (default 1 for every table).
    """
    builder = ArchiveBuilder(rows, seed=seed, now=now or datetime.now(UTC), id_start=id_start)
    return SynthArchive(builder.build_all())


class ArchiveBuilder:
    """The hierarchy's shape, then one builder per table, all drawing from one random generator.

    The constructor draws the shape: parent indexes per level and the row count per member OUS.
    The builders run in ``build_all``'s order and no other (each draw a builder makes shifts
    every draw after it). Each keeps on ``self`` its table and the arrays later builders read,
    named by level and indexed by row of it: ``p_`` project, ``sg_`` science goal, ``g_`` group
    OUS, ``m_`` member OUS, ``eb_`` execution block, ``src_`` source.
    """

    def __init__(
        self, rows: int, *, seed: int, now: datetime, id_start: dict[type, int] | None = None
    ) -> None:
        if rows < 0:
            raise ValueError(f"rows: must be 0 or more, got {rows}")
        self.seed, self.now, self.id_start = seed, now, id_start or {}
        # Rows per project average about 30; start generous and double until the rows fit.
        n_projects = rows // 12 + 8
        while not self._plan(rows, n_projects):
            n_projects *= 2
        self.m_sg = self.g_sg[self.m_g]
        self.m_proj = self.sg_proj[self.m_sg]
        self.p_ids = self.ids(qm.Project, len(self.p_cycle))
        self.sg_ids = self.ids(qm.ScienceGoal, len(self.sg_proj))
        self.g_ids = self.ids(qm.GroupOUS, len(self.g_sg))
        self.m_ids = self.ids(qm.MemberOUS, len(self.m_g))

    def ids(self, model: type[models.Model], n: int) -> np.ndarray:
        """Primary keys: each table counts up from its ``id_start`` (default 1)."""
        return np.arange(n, dtype=np.int64) + self.id_start.get(model, 1)

    def build_all(self) -> list[Table]:
        """Run every builder in order; the tables in insertion (foreign key) order."""
        return list(self.tables())

    def tables(self) -> Iterator[Table]:
        """Every builder in order, each table handed over as soon as it is built (insertion
        order: a project's science goals are built first, as their draws come first), so that
        one can be stored while the next is built (``write_while_building``)."""
        goals = self.build_science_goals()
        yield self.build_projects()
        yield goals
        self.place_sources()
        yield self.build_group_ouses()
        yield self.build_member_ouses()
        yield self.build_execution_blocks()
        yield self.build_files()
        yield self.build_observations()

    def _plan(self, rows: int, n_p: int) -> bool:
        """The hierarchy of ``n_p`` projects cut to ``rows`` rows; False if they hold fewer."""
        rng = np.random.default_rng(self.seed)
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
        sg_nspw = _choice(
            rng, [1, 2, 3, 4, 5, 6, 8], [0.03, 0.03, 0.04, 0.8, 0.03, 0.04, 0.03], n_sg
        )
        m_rows = (sg_nsrc * sg_nspw)[g_sg[m_g]].astype(np.int64)
        cum = np.cumsum(m_rows)
        if rows and (len(cum) == 0 or cum[-1] < rows):
            return False
        # Project numbers count up within each cycle, in generation order.
        p_number = np.zeros(n_p, dtype=np.int64)
        for c in range(len(CYCLES)):
            mask = p_cycle == c
            p_number[mask] = np.arange(int(mask.sum()))
        n_m = int(np.searchsorted(cum, rows)) + 1 if rows else 0
        m_rows = m_rows[:n_m].copy()
        if n_m:
            m_rows[-1] -= int(cum[n_m - 1] - rows)
        n_g_keep = int(m_g[n_m - 1]) + 1 if n_m else 0
        n_sg_keep = int(g_sg[n_g_keep - 1]) + 1 if n_m else 0
        n_p_keep = int(sg_proj[n_sg_keep - 1]) + 1 if n_m else 0
        if n_p_keep and int(p_number[:n_p_keep].max()) >= PROJECT_NUMBERS_PER_CYCLE:
            raise ValueError(
                f"rows: {rows} needs more than {PROJECT_NUMBERS_PER_CYCLE} synthetic projects in "
                "one cycle (numbers 90000-99999); use fewer rows"
            )
        self.rng = rng
        self.p_cycle, self.p_number = p_cycle[:n_p_keep], p_number[:n_p_keep]
        self.sg_proj = sg_proj[:n_sg_keep]
        self.sg_nsrc, self.sg_nspw = sg_nsrc[:n_sg_keep], sg_nspw[:n_sg_keep]
        self.g_sg = g_sg[:n_g_keep]
        self.m_g, self.m_array, self.m_rows = m_g[:n_m], m_array[:n_m], m_rows
        return True

    def build_science_goals(self) -> Table:
        """One band and one tuning per goal (windows inside the band), and where it points.

        A band offered only from a later cycle (``BAND_FIRST_CYCLE``) falls back to band 3.
        """
        rng, n_sg = self.rng, len(self.sg_proj)
        sg_cycle = self.p_cycle[self.sg_proj]
        sg_band = _choice(rng, np.arange(1, 11), BAND_SHARES, n_sg)
        for band, first in BAND_FIRST_CYCLE.items():
            first_idx = [c.prefix for c in CYCLES].index(first)
            sg_band = np.where((sg_band == band) & (sg_cycle < first_idx), 3, sg_band)
        # Spectral windows: up to 8 per goal, centred inside the band, widths as the correlator has.
        bw_choices = np.array([1.875e9, 0.9375e9, 0.46875e9, 0.234375e9, 0.1171875e9, 0.05859375e9])
        sg_bw = bw_choices[_choice(rng, range(6), [0.5, 0.15, 0.12, 0.1, 0.08, 0.05], n_sg * 8)]
        self.sg_bw = sg_bw.reshape(n_sg, 8)
        lo = np.array([BAND_RANGES_GHZ[int(b)][0] for b in sg_band])[:, None]
        hi = np.array([BAND_RANGES_GHZ[int(b)][1] for b in sg_band])[:, None]
        half = self.sg_bw / 2e9
        # One local oscillator per goal; windows sit 4-8 GHz either side of it (two sidebands).
        lo_osc = lo + rng.random((n_sg, 1)) * (hi - lo)
        side = np.where(rng.random((n_sg, 8)) < 0.5, -1.0, 1.0)
        sg_freq = lo_osc + side * rng.uniform(4.0, 8.0, (n_sg, 8))
        self.sg_freq = np.clip(sg_freq, lo + half, hi - half)  # GHz
        chan_choices = np.array([15.625e6, 976.5625e3, 488.28125e3, 244.140625e3, 122.0703125e3])
        sg_chan = chan_choices[_choice(rng, range(5), [0.3, 0.3, 0.15, 0.15, 0.1], n_sg * 8)]
        self.sg_chan = sg_chan.reshape(n_sg, 8)  # Hz
        self.sg_sens = np.exp(rng.normal(0.0, 0.8, (n_sg, 8)))  # mJy/beam in 10 km/s
        self.sg_mosaic = rng.random(n_sg) < 0.15
        self.sg_mosaic_fov = 0.01 + rng.random(n_sg) * 0.25  # deg
        # Pointing: a popular field (index into FIELDS), or anywhere ALMA can see (-1).
        fweights = np.array([f.weight for f in FIELDS], dtype=float)
        self.sg_field = np.where(
            rng.random(n_sg) < CLUSTERED_SHARE,
            rng.choice(len(FIELDS), size=n_sg, p=fweights / fweights.sum()),
            -1,
        )
        self.sg_band = sg_band
        # UID serials: science goals, group and member OUSs share the A001 namespace, goals first.
        self.goals = Table(
            qm.ScienceGoal,
            {
                "id": self.sg_ids.tolist(),
                "project_id": self.p_ids[self.sg_proj].tolist(),
                "uid": [uid("A001", s) for s in range(n_sg)],
                "name": [f"Band {b} goal {k}" for k, b in enumerate(sg_band.tolist())],
            },
        )
        return self.goals

    def build_projects(self) -> Table:
        """Codes in the synthetic number range; texts name the field of the first science goal."""
        n_p = len(self.p_cycle)
        codes = [
            f"{CYCLES[c].prefix}.{PROJECT_NUMBER_BASE + num:05d}.S"
            for c, num in zip(self.p_cycle.tolist(), self.p_number.tolist(), strict=True)
        ]
        first_sg = _offsets(np.bincount(self.sg_proj, minlength=n_p))
        texts = _project_texts(self.rng, self.sg_field[first_sg], self.sg_band[first_sg])
        columns = {"id": self.p_ids.tolist(), "code": codes, **texts, "is_synthetic": [True] * n_p}
        self.projects = Table(qm.Project, columns)
        return self.projects

    def place_sources(self) -> None:
        """Every goal's sources, goal after goal (a member OUS observes a run of its goal's):
        positions scattered around the goal's field (or a random centre ALMA can see) and names
        unique within a goal: the field's own spellings, a survey prefix, or a J-name."""
        rng, n_sg = self.rng, len(self.sg_proj)
        bg_z = rng.uniform(-1.0, math.sin(math.radians(ALMA_MAX_DEC)), n_sg)
        bg_ra = rng.uniform(0.0, 360.0, n_sg)
        bg_dec = np.degrees(np.arcsin(bg_z))
        n_src_total = int(self.sg_nsrc.sum())
        src_sg = np.repeat(np.arange(n_sg), self.sg_nsrc)
        src_local = np.arange(n_src_total) - _offsets(self.sg_nsrc)[src_sg]
        f_idx = self.sg_field[src_sg]
        is_field = f_idx >= 0
        f_ra = np.array([f.ra for f in FIELDS])[np.maximum(f_idx, 0)]
        f_dec = np.array([f.dec for f in FIELDS])[np.maximum(f_idx, 0)]
        f_sig = np.array([f.sigma_deg for f in FIELDS])[np.maximum(f_idx, 0)]
        d_dec = rng.normal(0.0, 1.0, n_src_total)
        d_ra = rng.normal(0.0, 1.0, n_src_total)
        sigma = np.where(is_field, f_sig, np.where(self.sg_nsrc[src_sg] > 5, 0.5, 0.05))
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
                if self.sg_nsrc[sg] == 1:
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
        self.src_names = src_names
        self.src_keys = [name_key(n) for n in src_names]  # the loader's own key
        self.src_slugs = [n.replace(" ", "_") for n in src_names]
        self.src_ra, self.src_dec = src_ra, src_dec
        self.src_vec = src_vec  # ICRS unit vectors, (source, xyz)
        self.src_gal_l = np.mod(np.degrees(np.arctan2(gal[:, 1], gal[:, 0])), 360.0)
        self.src_gal_b = np.degrees(np.arcsin(np.clip(gal[:, 2], -1, 1)))

    def build_group_ouses(self) -> Table:
        """One or two group OUSs per science goal; their UIDs follow the goals' in A001."""
        n_sg = len(self.sg_proj)
        self.groups = Table(
            qm.GroupOUS,
            {
                "id": self.g_ids.tolist(),
                "uid": [uid("A001", n_sg + s) for s in range(len(self.g_sg))],
                "project_id": self.p_ids[self.sg_proj[self.g_sg]].tolist(),
                "science_goal_id": self.sg_ids[self.g_sg].tolist(),
            },
        )
        return self.groups

    def build_member_ouses(self) -> Table:
        """Observed inside the project's cycle, released ``RELEASE_DELAY`` after the first
        observation (Proprietary while that is after ``now``), with their aggregates computed
        from the same arrays as the rows."""
        rng, n_m = self.rng, len(self.m_g)
        m_cycle = self.p_cycle[self.m_proj]
        c_start = np.array([datetime_to_mjd(c.start) for c in CYCLES])[m_cycle]
        c_end = np.array([datetime_to_mjd(c.end) for c in CYCLES])[m_cycle]
        self.m_tmin = np.round(c_start + rng.random(n_m) * (c_end - c_start - 0.2), 6)
        self.m_band = self.sg_band[self.m_sg]
        self.m_nspw = self.sg_nspw[self.m_sg]
        m_nsrc = -(-self.m_rows // self.m_nspw)  # the last MOUS may have been cut short
        self.m_neb = _choice(rng, [1, 2, 3, 4], [0.45, 0.3, 0.15, 0.1], n_m)
        m_exptime_total = np.round(np.exp(rng.normal(math.log(2400.0), 0.8, n_m)), 2)
        self.m_src_exptime = np.round(m_exptime_total / m_nsrc, 2)  # s per source
        self.m_release = [mjd_to_datetime(t) + RELEASE_DELAY for t in self.m_tmin.tolist()]
        self.m_rights = ["Proprietary" if r > self.now else "Public" for r in self.m_release]
        self.m_arrays = [ARRAYS[int(a)] for a in self.m_array]
        self.m_uids = [uid("A001", len(self.sg_proj) + len(self.g_sg) + s) for s in range(n_m)]
        self.m_src_offset = _offsets(self.sg_nsrc)[self.m_sg]  # its first source
        self.members = Table(
            qm.MemberOUS,
            {
                "id": self.m_ids.tolist(),
                "uid": self.m_uids,
                "project_id": self.p_ids[self.m_proj].tolist(),
                "group_ous_id": self.g_ids[self.m_g].tolist(),
                "release_date": self.m_release,
                "data_rights": self.m_rights,
                "band_mask": (1 << self.m_band).tolist(),
                "n_observations": self.m_rows.tolist(),
                "n_sources": m_nsrc.tolist(),
                "target_names": [
                    ", ".join(self.src_names[o : o + n])
                    for o, n in zip(self.m_src_offset.tolist(), m_nsrc.tolist(), strict=True)
                ],
                "t_exptime": np.round(self.m_src_exptime * m_nsrc, 2).tolist(),
                "t_min": self.m_tmin.tolist(),
                "antenna_array": self.m_arrays,
            },
        )
        return self.members

    def build_execution_blocks(self) -> Table:
        """One to four blocks per member OUS (A002 UIDs), named after its first source, band and
        array as ALMA's scheduling blocks are."""
        n_eb = int(self.m_neb.sum())
        eb_m = np.repeat(np.arange(len(self.m_g)), self.m_neb)
        self.eb_ids = self.ids(qm.ExecutionBlock, n_eb)
        self.eb_uids = [uid("A002", s) for s in range(n_eb)]
        self.m_first_eb = _offsets(self.m_neb)
        self.m_schedblock = [
            f"{self.src_slugs[int(o)]}_a_{int(b):02d}_{a}"
            for o, b, a in zip(self.m_src_offset, self.m_band, self.m_arrays, strict=True)
        ]
        self.blocks = Table(
            qm.ExecutionBlock,
            {
                "id": self.eb_ids.tolist(),
                "asdm_uid": self.eb_uids,
                "member_ous_id": self.m_ids[eb_m].tolist(),
                "schedblock_name": [self.m_schedblock[int(m)] for m in eb_m],
            },
        )
        return self.blocks

    def build_files(self) -> Table:
        """Per member OUS: product tars, one auxiliary tar, a README, one raw tar per block."""
        rng, n_m = self.rng, len(self.m_g)
        n_products = _choice(rng, [1, 2, 3], [0.8, 0.15, 0.05], n_m)
        product_gb = np.exp(rng.normal(math.log(3.0), 1.2, n_m))
        raw_gb = np.exp(rng.normal(math.log(30.0), 0.9, len(self.eb_uids)))
        codes, tar, cat = self.projects.columns["code"], "application/x-tar", qm.FileCategory
        rows = []  # one tuple per file: member OUS, name, category, size, type, semantics, block
        for m in range(n_m):
            code, mous = codes[int(self.m_proj[m])], uid_in_file_name(self.m_uids[m])
            mid, k, gb = int(self.m_ids[m]), int(n_products[m]), product_gb[m]
            for j in range(k):
                name = f"{code}_{mous}_{j + 1:03d}_of_{k:03d}.tar"
                rows.append((mid, name, cat.PRODUCT.value, int(gb * 1e9 / k), tar, "#this", None))
            name, size = f"{code}_{mous}_auxiliary.tar", int(gb * 1e8) + 50_000_000
            rows.append((mid, name, cat.AUXILIARY.value, size, tar, "#auxiliary", None))
            name, size = f"member.{mous}.README.txt", 8_000 + mid % 9_000
            rows.append((mid, name, cat.README.value, size, "text/plain", "#documentation", None))
            first = int(self.m_first_eb[m])
            for e in range(first, first + int(self.m_neb[m])):
                name = f"{code}_{uid_in_file_name(self.eb_uids[e])}.asdm.sdm.tar"
                size, block = int(raw_gb[e] * 1e9), int(self.eb_ids[e])
                rows.append((mid, name, cat.RAW.value, size, tar, "#progenitor", block))
        names = ("member_ous_id", "name", "category", "size", "content_type", "semantics")
        f_cols = {n: [row[i] for row in rows] for i, n in enumerate((*names, "execution_block_id"))}
        f_cols["id"] = self.ids(qm.ArchiveFile, len(rows)).tolist()
        f_cols["is_synthetic"] = [True] * len(rows)
        self.files = Table(qm.ArchiveFile, f_cols)
        return self.files

    def _frequency_support(self) -> list[str]:
        """ALMA's ``frequency_support`` text of each goal: one ``[lo..hi GHz, ...]`` per window."""
        support = []
        for s in range(len(self.sg_proj)):
            parts = []
            for j in range(int(self.sg_nspw[s])):
                f0 = self.sg_freq[s, j] - self.sg_bw[s, j] / 2e9
                f1 = self.sg_freq[s, j] + self.sg_bw[s, j] / 2e9
                sens = self.sg_sens[s, j]
                parts.append(
                    f"[{f0:.2f}..{f1:.2f}GHz,{self.sg_chan[s, j] / 1e3:.2f}kHz,"
                    f"{sens:.2f}mJy/beam@10km/s,{sens * 40:.1f}uJy/beam@native, XX YY]"
                )
            support.append(" U ".join(parts))
        return support

    def build_observations(self) -> Table:
        """One ObsCore row per member OUS x source x spectral window, every column derived from
        the tables above (so a row and its member OUS, project and goal always agree)."""
        rng, n_m = self.rng, len(self.m_g)
        n_rows = int(self.m_rows.sum())
        row_m = np.repeat(np.arange(n_m), self.m_rows)
        k = np.arange(n_rows) - _offsets(self.m_rows)[row_m]
        nspw_r = self.m_nspw[row_m]
        row_src = self.m_src_offset[row_m] + k // nspw_r
        row_j = k % nspw_r
        row_sg = self.m_sg[row_m]
        row_band = self.m_band[row_m]
        freq = np.round(self.sg_freq[row_sg, row_j], 6)
        bw = self.sg_bw[row_sg, row_j]
        chan = self.sg_chan[row_sg, row_j]
        arr = self.m_array[row_m]
        # Primary beam FWHM: 58" at 100 GHz for a 12 m dish (TP too), 99" for a 7 m dish.
        beam_deg = np.where(arr == 1, 99.0, 58.0) * (100.0 / freq) / 3600.0
        mosaic = self.sg_mosaic[row_sg] | (arr == 2)
        s_fov = np.where(mosaic, np.maximum(self.sg_mosaic_fov[row_sg], beam_deg), beam_deg)
        s_fov = np.round(s_fov, 7)
        m_res100 = np.where(
            self.m_array == 0,
            np.exp(rng.uniform(math.log(0.04), math.log(3.4), n_m)),
            np.where(self.m_array == 1, 12.5, 56.0),
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
        t_min = np.round(self.m_tmin[row_m] + (k // nspw_r) * 0.002, 6)
        src_exp = self.m_src_exptime[row_m]
        t_max = np.round(t_min + src_exp * 1.5 / 86400.0, 6)
        sens = self.sg_sens[row_sg, row_j] * np.sqrt(2400.0 / np.maximum(src_exp, 60.0))
        pwv_max = np.array([0, 5, 5, 4, 3, 2.5, 2, 1.2, 0.8, 0.6, 0.5])[row_band]
        pwv = np.round(0.2 + rng.random(n_rows) * pwv_max, 3)

        row_m_l = row_m.tolist()
        row_src_l = row_src.tolist()
        spw_base = np.array([16, 25, 17, 19])[self.m_sg % 4]
        spw_n = (spw_base[row_m] + 2 * row_j).tolist()
        obs_ids = [
            f"{self.m_uids[m]}.source.{self.src_slugs[s]}.spw.{n}"
            for m, s, n in zip(row_m_l, row_src_l, spw_n, strict=True)
        ]
        ra_r = np.round(self.src_ra[row_src], 7)
        dec_r = np.round(self.src_dec[row_src], 7)
        regions = [
            f"Circle ICRS {a:.6f} {d:.6f} {f / 2:.6f}"
            for a, d, f in zip(ra_r.tolist(), dec_r.tolist(), s_fov.tolist(), strict=True)
        ]
        proj_r = self.m_proj[row_m]
        m_first_asdm = [self.eb_uids[int(o)] for o in self.m_first_eb]
        m_last_modified = [r - RELEASE_DELAY + timedelta(days=30) for r in self.m_release]
        g_uid_m = [self.groups.columns["uid"][int(g)] for g in self.m_g]
        p = self.projects.columns
        proj_l = proj_r.tolist()
        c = constants.c.value  # m/s

        def per_row(values: list, index: list[int]) -> list:
            return [values[i] for i in index]

        def same(value: Any) -> list:
            return [value] * n_rows

        self.observations = Table(
            qm.Observation,
            {
                "id": self.ids(qm.Observation, n_rows).tolist(),
                "obs_id": obs_ids,
                "obs_publisher_did": [f"ADS/JAO.ALMA#{p['code'][i]}" for i in proj_l],
                "obs_collection": same("ALMA"),
                "facility_name": same("JAO"),
                "instrument_name": same("ALMA"),
                "dataproduct_type": same("cube"),
                "calib_level": same(2),
                "proposal_id": per_row(p["code"], proj_l),
                "group_ous_uid": per_row(g_uid_m, row_m_l),
                "member_ous_uid": per_row(self.m_uids, row_m_l),
                "asdm_uid": per_row(m_first_asdm, row_m_l),
                "schedblock_name": per_row(self.m_schedblock, row_m_l),
                "project_id": self.p_ids[proj_r].tolist(),
                "member_ous_id": self.m_ids[row_m].tolist(),
                "target_name": per_row(self.src_names, row_src_l),
                "target_name_key": per_row(self.src_keys, row_src_l),
                "s_ra": ra_r.tolist(),
                "s_dec": dec_r.tolist(),
                "s_x": self.src_vec[row_src, 0].tolist(),
                "s_y": self.src_vec[row_src, 1].tolist(),
                "s_z": self.src_vec[row_src, 2].tolist(),
                "s_fov": s_fov.tolist(),
                "s_region": regions,
                "s_resolution": res.tolist(),
                "gal_longitude": np.round(self.src_gal_l[row_src], 6).tolist(),
                "gal_latitude": np.round(self.src_gal_b[row_src], 6).tolist(),
                "spatial_resolution": res.tolist(),
                "spatial_scale_max": las.tolist(),
                "is_mosaic": np.where(mosaic, "T", "F").tolist(),
                "band_list": [str(b) for b in row_band.tolist()],
                "band_mask": (1 << row_band).tolist(),
                "frequency": freq.tolist(),
                "frequency_support": per_row(self._frequency_support(), row_sg.tolist()),
                "bandwidth": bw.tolist(),
                "spectral_resolution": chan.tolist(),
                "em_min": (c / (freq * 1e9 + bw / 2)).tolist(),
                "em_max": (c / (freq * 1e9 - bw / 2)).tolist(),
                "em_res_power": np.round(freq * 1e9 / chan, 3).tolist(),
                "em_resolution": (c * chan / (freq * 1e9) ** 2).tolist(),
                "em_xel": np.round(bw / chan).astype(np.int64).tolist(),
                "velocity_resolution": np.round(c * chan / (freq * 1e9), 3).tolist(),
                "sensitivity_10kms": np.round(sens, 4).tolist(),
                "cont_sensitivity_bandwidth": np.round(sens * 0.04, 5).tolist(),
                "t_min": t_min.tolist(),
                "t_max": t_max.tolist(),
                "t_exptime": src_exp.tolist(),
                "obs_release_date": per_row(self.m_release, row_m_l),
                "last_modified": per_row(m_last_modified, row_m_l),
                "pol_states": same("/XX/YY/"),
                "pol_xel": same(2),
                "o_ucd": same("phot.flux.density;phys.polarization"),
                "pwv": pwv.tolist(),
                "antenna_arrays": [ANTENNAS[self.m_arrays[m]] for m in row_m_l],
                "scan_intent": same("TARGET"),
                "science_observation": same("T"),
                "qa2_passed": same("T"),
                "type": same("S"),
                "access_format": same("application/x-votable+xml;content=datalink"),
                "data_rights": per_row(self.m_rights, row_m_l),
                "obs_title": per_row(p["title"], proj_l),
                "obs_creator_name": per_row(p["pi_name"], proj_l),
                "pi_name": per_row(p["pi_name"], proj_l),
                "pi_userid": per_row(p["pi_userid"], proj_l),
                "proposal_abstract": per_row(p["abstract"], proj_l),
                "proposal_authors": per_row(p["proposal_authors"], proj_l),
                "science_keyword": per_row(p["science_keyword"], proj_l),
                "scientific_category": per_row(p["scientific_category"], proj_l),
                "source_file": same(f"synth_archive --seed {self.seed}"),
            },
        )
        return self.observations


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
        # The rows' windows go first and the rows then by one plain DELETE: the ORM's cascade
        # would read every row into Python to look for windows (minutes for a million).
        observations = qm.Observation.objects.using(using).filter(project__in=projects)
        qm.SpectralWindow.objects.using(using).filter(observation__in=observations).delete()
        observations._raw_delete(using)
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
    """Every concrete column the database does not compute itself, generated values (by the
    archive's generator) or the field's default, in model field order;
    a JSON default as its JSON text (``copy_binary`` sends jsonb as text)."""
    connection = connections[using]
    names, columns = [], []
    n = len(table)
    for f in table.model._meta.concrete_fields:
        if f.generated:  # the database computes it (``queries.upper_text``)
            continue
        names.append(f.column)
        if f.attname in table.columns:
            columns.append(table.columns[f.attname])
        elif f.null:
            columns.append(itertools.repeat(None, n))
        elif isinstance(f, models.JSONField):
            columns.append(itertools.repeat(json.dumps(f.get_default()), n))
        else:
            columns.append(itertools.repeat(f.get_db_prep_save(f.get_default(), connection), n))
    return names, zip(*columns)  # noqa: B905 (repeat() is endless by design)


def _copy(table: Table, using: str) -> None:
    """One table by binary COPY, a Python tuple a row through psycopg's ``write_row``.

    Why not ``queries.archive.pg_binary`` (rows laid out by Arrow and numpy): measured on
    200,000 observations (load 5.6), ``write_row`` took 0.65-0.72 s of CPU, the Arrow layout
    2.2-2.6 s (with ``pa.array`` over these lists), while the COPY took 2.4 s either way:
    the server's side (heap, WAL, the unique indexes) is the COPY's time, not Python's.
    """
    names, rows = _full_rows(table, using)
    with connections[using].cursor() as cursor:
        copy_binary(cursor, table.model._meta.db_table, names, rows)


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
    if connections[using].vendor == "postgresql":
        _copy_tables(archive.tables, using)
        _reset_sequences(using)
    else:
        for table in archive.tables:
            if len(table):
                _bulk_create(table, using, batch_size)


def write_while_building(
    builder: ArchiveBuilder, *, load: pending_indexes.Load, using: str = "default"
) -> SynthArchive:
    """``write_archive(SynthArchive(builder.build_all()))`` on PostgreSQL, each table built in a
    thread while the ones before it are stored; the caller holds the transaction. When the
    observations are a first load (``bulk_indexes.worth_deferring``), their indexes and keys
    (and the windows', whose key to them would lock them) are dropped and recorded in
    ``load``, left for ``pending_indexes.build_beside`` after the commit.

    Why: the server spends seconds storing the hierarchy (COPY, then its indexes, trigram
    GINs included, and keys), one backend on one core, while Python would wait; the next
    tables, the observations above all (most of the generator's time), are built meanwhile
    on the other core. The builders still run one after the other in ``build_all``'s order,
    so the draws and the tables are the same. The hierarchy's indexes are built as soon as
    its last table is stored, before the observations (the last table) arrive.
    """
    tables: list[Table] = []
    with ExitStack() as hierarchy_indexes:
        for table in read_ahead(builder.tables(), name="synth-build"):
            tables.append(table)
            if table.model is qm.Observation:
                if bulk_indexes.worth_deferring(qm.Observation, len(table), using=using):
                    load.drop([qm.Observation, qm.SpectralWindow])
                if len(table):
                    _copy(table, using)
                continue
            hierarchy_indexes.enter_context(_deferred([table], using))
            if len(table):
                _copy(table, using)
            if len(tables) == len(GENERATED_MODELS) - 1:
                hierarchy_indexes.close()  # builds them, the last table's first
    _reset_sequences(using)
    return SynthArchive(tables)


def _deferred(tables: list[Table], using: str) -> AbstractContextManager[None]:
    """``bulk_indexes.deferred`` for these tables, their foreign keys too."""
    loading = [(table.model, len(table)) for table in tables]
    return bulk_indexes.deferred(loading, with_foreign_keys=True, using=using)


def _copy_tables(tables: list[Table], using: str) -> None:
    """COPY each table; a large load goes without the secondary indexes and keys of the tables
    it fills, built once at the end (queries.bulk_indexes), inside the caller's transaction."""
    with _deferred(tables, using):
        for table in tables:
            if len(table):
                _copy(table, using)


def _reset_sequences(using: str) -> None:
    """Explicit ids left the identity sequences behind: move them past the new rows."""
    connection = connections[using]
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
    The rows commit together; a first load's observation indexes are then built beside the
    derived tables (``queries.pending_indexes``), and first, those a killed load left.
    """
    if batch_size < 1:
        raise ValueError(f"batch: must be 1 or more, got {batch_size}")
    pending_indexes.build_abandoned(using=using)
    with pending_indexes.loading("synth_archive", using=using) as load:
        with transaction.atomic(using=using):
            _lock_tables(using)
            if synthetic_projects(using).exists():
                if not replace:
                    raise ValueError(
                        "synthetic projects (codes YYYY.C.9NNNN.S) are already loaded; "
                        "pass --replace to remove them first"
                    )
                delete_synthetic_archive(using=using)
            builder = ArchiveBuilder(
                rows, seed=seed, now=now or datetime.now(UTC), id_start=_next_ids(using)
            )
            if connections[using].vendor == "postgresql":
                archive = write_while_building(builder, load=load, using=using)
            else:
                archive = SynthArchive(builder.build_all())
                write_archive(archive, using=using, batch_size=batch_size)
    if load.record is None:
        _derive()
    else:
        # The observations' indexes built beside the derived tables, which only read them.
        table = qm.Observation._meta.db_table
        pending_indexes.build_beside(load.record, _derive, table=table, using=using)
    return SynthResult(counts=archive.counts(), vendor=connections[using].vendor)


def _derive() -> None:
    """What rebuild_hierarchy derives after a load, for the hierarchy written here directly: the
    project view's per-project aggregates and positions, and the line finder's windows."""
    refresh_summaries()
    refresh_positions()
    rebuild_windows()
