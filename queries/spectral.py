"""Spectral windows: ALMA's ``frequency_support`` text read into ranges, and what a line needs.

ALMA describes each observation's tuning as one bracket per spectral window, joined by `` U ``::

    [95.06..96.94GHz,1128.91kHz,769.7uJy/beam@10km/s,31.8uJy/beam@native, XX YY] U [...]

(range in GHz, channel width, line sensitivity at 10 km/s, continuum sensitivity, polarisations).
A line is observed only if a window covers its observed frequency: the representative
``frequency`` and even ``em_min..em_max`` (which span the gaps between windows) are not enough.
Some texts reach the portal cut short (``...`` after a window's width): every window whose range
and width arrived is kept, the rest is ignored, never guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Max
from redis.exceptions import RedisError

from queries.units import SPEED_OF_LIGHT_KM_S

log = logging.getLogger(__name__)

# ALMA's receiver bands, GHz (the ALMA Technical Handbook's tuning ranges).
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

_WINDOW = re.compile(
    r"\[\s*(?P<lo>\d+(?:\.\d*)?)\s*\.\.\s*(?P<hi>\d+(?:\.\d*)?)\s*GHz\s*,"
    r"\s*(?P<width>\d+(?:\.\d*)?)\s*(?P<unit>[kMG]?Hz)"
)
_HZ = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}


@dataclass(frozen=True)
class Window:
    """One spectral window: its sky-frequency range in GHz and channel width in Hz."""

    lo_ghz: float
    hi_ghz: float
    channel_hz: float

    def covers(self, frequency_ghz: float) -> bool:
        return self.lo_ghz <= frequency_ghz <= self.hi_ghz

    def resolution_kms(self, frequency_ghz: float) -> float:
        """The channel width as a velocity at ``frequency_ghz`` (radio convention)."""
        return SPEED_OF_LIGHT_KM_S * self.channel_hz / (frequency_ghz * 1e9)


def windows(frequency_support: str | None) -> list[Window]:
    """The complete windows of a ``frequency_support`` text, in the order ALMA lists them."""
    found = []
    for match in _WINDOW.finditer(frequency_support or ""):
        lo, hi = float(match["lo"]), float(match["hi"])
        found.append(Window(min(lo, hi), max(lo, hi), float(match["width"]) * _HZ[match["unit"]]))
    return found


# A window matches its row's em range to the 0.01 GHz ALMA rounds window edges to, and a bit.
EDGE_TOLERANCE_GHZ = 0.02
WIDEST_CACHE_KEY = "queries:spectral:widest-window"
# Bounds how long a cached widest window can outlive a widening the cache missed (it was down).
WIDEST_SECONDS = 600


def row_windows(
    frequency_support: str | None,
    em_min: float | None,
    em_max: float | None,
    spectral_resolution: float | None = None,
) -> list[Window]:
    """The windows of one ObsCore row.

    ALMA's rows are mostly one spectral window of one source (``obs_id`` ending ``.spw.<n>``,
    ``em_min..em_max`` that window's range) while ``frequency_support`` lists every window of
    the tuning; older rows (one per execution block) span all their windows. So a row's own
    windows are those of ``frequency_support`` inside its em range; when none is (a text cut
    short), the em range itself, with ``spectral_resolution`` as its channel; with no em range,
    every window listed.
    """
    listed = windows(frequency_support)
    if not (em_min and em_max and em_min > 0 and em_max > 0):
        return listed
    lo = SPEED_OF_LIGHT_KM_S * 1e3 / em_max / 1e9
    hi = SPEED_OF_LIGHT_KM_S * 1e3 / em_min / 1e9
    own = [
        w
        for w in listed
        if w.lo_ghz >= lo - EDGE_TOLERANCE_GHZ and w.hi_ghz <= hi + EDGE_TOLERANCE_GHZ
    ]
    return own or [Window(min(lo, hi), max(lo, hi), spectral_resolution or None)]


def rebuild_windows(proposal_ids: Iterable[str] | None = None) -> None:
    """Replace the ``SpectralWindow`` rows of the given projects' observations (all when None).

    On PostgreSQL each distinct ``frequency_support`` is read here by ``windows`` and one
    statement applies ``row_windows``'s rule to every row (a test holds the two equal on the
    sample); elsewhere Python does it in chunks.
    """
    from django.db import connection, transaction

    from queries.models import Observation, SpectralWindow

    codes = None if proposal_ids is None else sorted(set(proposal_ids))
    if codes == []:
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _rebuild_postgresql(codes)
        else:
            rows = Observation.objects.all()
            if codes is not None:
                rows = rows.filter(proposal_id__in=codes)
            SpectralWindow.objects.filter(observation__in=rows.values("pk")).delete()
            batch: list[SpectralWindow] = []
            fields = ("pk", "frequency_support", "em_min", "em_max", "spectral_resolution")
            for pk, support, em_min, em_max, resolution in rows.values_list(*fields).iterator(
                chunk_size=5000
            ):
                batch.extend(
                    SpectralWindow(
                        observation_id=pk, lo_ghz=w.lo_ghz, hi_ghz=w.hi_ghz, channel_hz=w.channel_hz
                    )
                    for w in row_windows(support, em_min, em_max, resolution)
                )
                if len(batch) >= 5000:
                    SpectralWindow.objects.bulk_create(batch)
                    batch = []
            SpectralWindow.objects.bulk_create(batch)
    note_widest_window()


def note_widest_window() -> None:
    """Note the widest window in the cache, after windows were written (``rebuild_windows``, or
    a first load that wrote them with its rows).

    The line filter's index range is as wide as the widest window: widen it, never narrow it
    (a stale, wider bound only reads a few more index entries). With the cache unreachable the
    windows stay written; a narrower copy it may still hold expires within ``WIDEST_SECONDS``.
    """
    from django.core.cache import cache

    widest = _widest_in_mirror()
    try:
        known = cache.get(WIDEST_CACHE_KEY) or 0.0
        cache.set(WIDEST_CACHE_KEY, max(widest, known), WIDEST_SECONDS)
    except RedisError as error:
        log.error("spectral: the widest window was not cached (%s)", error)


def widest_window_ghz() -> float:
    """The widest spectral window in the mirror, GHz (cached; see ``rebuild_windows``). Read
    from the windows (one scan) when the cache has none or is unreachable."""
    from django.core.cache import cache

    try:
        widest = cache.get(WIDEST_CACHE_KEY)
    except RedisError as error:
        log.warning("spectral: widest window read from the mirror, no cache (%s)", error)
        return _widest_in_mirror()
    if widest is None:
        widest = _widest_in_mirror()
        try:
            cache.set(WIDEST_CACHE_KEY, widest, WIDEST_SECONDS)
        except RedisError as error:
            log.warning("spectral: the widest window was not cached (%s)", error)
    return float(widest)


def _widest_in_mirror() -> float:
    from queries.models import SpectralWindow

    return float(SpectralWindow.objects.aggregate(m=Max(F("hi_ghz") - F("lo_ghz")))["m"] or 0.0)


def _rebuild_postgresql(codes: list[str] | None) -> None:
    from django.db import connection

    from queries import bulk_indexes, hierarchy_sql
    from queries.models import Observation, SpectralWindow

    where = "" if codes is None else "WHERE proposal_id = ANY(%(codes)s)"
    c_m_s = SPEED_OF_LIGHT_KM_S * 1e3
    rows = Observation.objects.all()
    if codes is not None:
        rows = rows.filter(proposal_id__in=codes)
    with connection.cursor() as cursor:
        hierarchy_sql.for_large_statements(cursor)
        _delete_windows(cursor, codes, where)
        # As many windows as the table holds (a first load, a rebuild of everything): insert
        # them without the table's indexes and key, built once after (queries.bulk_indexes).
        # Every window gone, the rows need only be counted up to the threshold: a count of a
        # million rows is a scan of the 1.8 GB table for the same answer.
        if codes is None:
            cursor.execute(
                "SELECT count(*) FROM (SELECT FROM queries_observation LIMIT %s) t",
                [bulk_indexes.DEFER_MIN_ROWS],
            )
            (incoming,) = cursor.fetchone()
        else:
            incoming = rows.count()
        with bulk_indexes.deferred([(SpectralWindow, incoming)], with_foreign_keys=True):
            _insert_windows(cursor, codes, where, c_m_s)


def _delete_windows(cursor, codes: list[str] | None, where: str) -> None:
    if codes is None:
        # DELETE, not TRUNCATE: the caller's transaction may hold deferred foreign-key
        # checks on this table (rows just removed), which TRUNCATE refuses to run past.
        cursor.execute("DELETE FROM queries_spectralwindow")
    else:
        cursor.execute(
            "DELETE FROM queries_spectralwindow WHERE observation_id IN "
            f"(SELECT id FROM queries_observation {where})",
            {"codes": codes},
        )


def _insert_windows(cursor, codes: list[str] | None, where: str, c_m_s: float) -> None:
    """The windows of the rows, by ``row_windows``'s rule: each distinct ``frequency_support``
    text (the rows of one tuning share it: 48,937 texts for 1M rows) read by ``windows`` here,
    once, and the rows joined to their texts' windows in one pass over the table.

    Parsing in SQL cost 90 us a text (``regexp_matches``, 4.5 s for 1M rows) and joining
    materialised rows wrote the whole text column to a temporary file; measured in
    bench/README.md ("Harvest ingest").
    """
    cursor.execute(
        "CREATE TEMP TABLE spectral_texts ON COMMIT DROP AS "
        "SELECT row_number() OVER () AS n, frequency_support "
        f"FROM (SELECT DISTINCT frequency_support FROM queries_observation {where}) t",
        {"codes": codes},
    )
    # Counted, so the join hashes the few texts rather than the million rows.
    cursor.execute("ANALYZE spectral_texts")
    cursor.execute("SELECT n, frequency_support FROM spectral_texts")
    numbers, los, his, channels = [], [], [], []
    for n, text in cursor.fetchall():
        for w in windows(text):
            numbers.append(n)
            los.append(w.lo_ghz)
            his.append(w.hi_ghz)
            channels.append(w.channel_hz)
    # A row's own windows are those of its text inside its em range (all of them without one);
    # a row with an em range and none of its own gets that range, its resolution as channel.
    cursor.execute(
        f"""
        WITH listed AS MATERIALIZED (
            SELECT * FROM unnest(%(numbers)s::bigint[], %(los)s::float8[], %(his)s::float8[],
                                 %(channels)s::float8[]) AS w(n, lo, hi, channel)
        ), obs AS (
            SELECT o.id, t.n, NULLIF(o.spectral_resolution, 0) AS resolution,
                   CASE WHEN o.em_min > 0 AND o.em_max > 0
                        THEN %(c)s / o.em_max / 1e9 END AS row_lo,
                   CASE WHEN o.em_min > 0 AND o.em_max > 0
                        THEN %(c)s / o.em_min / 1e9 END AS row_hi
            FROM queries_observation o
            JOIN spectral_texts t ON t.frequency_support = o.frequency_support
            {where}
        )
        INSERT INTO queries_spectralwindow (observation_id, lo_ghz, hi_ghz, channel_hz)
        SELECT o.id,
               CASE WHEN l.n IS NULL THEN LEAST(o.row_lo, o.row_hi) ELSE l.lo END,
               CASE WHEN l.n IS NULL THEN GREATEST(o.row_lo, o.row_hi) ELSE l.hi END,
               CASE WHEN l.n IS NULL THEN o.resolution ELSE l.channel END
        FROM obs o LEFT JOIN listed l ON l.n = o.n AND (
            o.row_lo IS NULL
            OR (l.lo >= o.row_lo - %(tol)s AND l.hi <= o.row_hi + %(tol)s))
        WHERE l.n IS NOT NULL OR o.row_lo IS NOT NULL
        """,
        {
            "codes": codes,
            "c": c_m_s,
            "tol": EDGE_TOLERANCE_GHZ,
            "numbers": numbers,
            "los": los,
            "his": his,
            "channels": channels,
        },
    )
    cursor.execute("DROP TABLE spectral_texts")
