"""Parsed constraints -> Django ``Q`` filters on ``Observation``; exact on SQLite and PostgreSQL.

Positions: ALMA's service matches ``INTERSECTS(CIRCLE(...), s_region)``. The mirror answers with
the footprint's bounding circle instead: a row matches when the angular distance between its
centre and the cone's centre is at most ``radius + s_fov/2`` (``s_fov`` is the diameter of the
minimum bounding circle of ``s_region``). That never misses a footprint that intersects the cone
and can include a row whose irregular mosaic only comes near it. The distance test is a dot
product with the stored unit vector (no trigonometry per row but one cosine), behind an ``s_dec``
box (declination band, and right ascension away from the poles) that lets an index narrow the
rows first; the box is padded by the widest footprint the mirror holds.

Negated numeric terms exclude NULLs, as SQL and ALMA's TAP service do: ``!=5`` does not match a
row without a value; ask for ``null`` explicitly.

Text: case-insensitive unless ALMA's ``=``/``==`` ask otherwise. Plain text and leading/trailing
``*`` use Django's escaped lookups (their indexes); wildcards inside a value use ``Like``, whose
pattern escapes the user's ``%``, ``_`` and ``\\`` (never a regular expression, which a pattern
such as ``*a*a*a*b`` could make backtrack for minutes on SQLite). Which columns (or the
per-project table) a field searches is its kind's business (``queries.kinds``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import connection
from django.db.models import F, IntegerField, Lookup, Max, Q, Value
from django.db.models.functions import Coalesce, Cos, Floor
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, In
from redis.exceptions import RedisError

from queries import syntax, upper_text
from queries.models import Observation, SpectralWindow
from queries.spectral import widest_window_ghz
from queries.units import galactic_to_icrs, unit_vector

if TYPE_CHECKING:
    from queries.fields import ParsedQuery

log = logging.getLogger(__name__)

MIRROR_STATS_CACHE_KEY = "queries:mirror-stats"
MIRROR_STATS_SECONDS = 600


def _bound(column: str, value: float, *, lower: bool, inclusive: bool) -> tuple[str, float]:
    """The lookup and value for one bound; integer columns get integer bounds.

    Django turns a float compared with an IntegerField into an int (``>= 2018.5`` would become
    ``>= 2018``), so bounds on integer columns are rounded here the way the comparison means.
    """
    if not _is_integer_column(column) or float(value).is_integer():
        op = ("gte" if inclusive else "gt") if lower else ("lte" if inclusive else "lt")
        return op, value
    if lower:
        return "gte", math.ceil(value)
    return "lte", math.floor(value)


def _is_integer_column(column: str) -> bool:
    try:
        return isinstance(Observation._meta.get_field(column), IntegerField)
    except Exception:  # a related path such as member_ous__...: compared as given
        return False


def interval_q(column: str, interval: syntax.Interval) -> Q:
    q = Q()
    if interval.low is not None:
        op, value = _bound(column, interval.low, lower=True, inclusive=interval.low_inclusive)
        q &= Q(**{f"{column}__{op}": value})
    if interval.high is not None:
        op, value = _bound(column, interval.high, lower=False, inclusive=interval.high_inclusive)
        q &= Q(**{f"{column}__{op}": value})
    if interval.low is None and interval.high is None:
        q &= Q(**{f"{column}__isnull": False})
    return q


def numeric_q(column: str, constraint: syntax.NumericConstraint) -> Q:
    """OR of the terms; a negated term never matches NULL (``!=5``, ``!(1..2)``)."""
    result = Q(pk__in=[])
    for term in constraint.terms:
        if isinstance(term.test, syntax.NullTest):
            q = Q(**{f"{column}__isnull": term.test.is_null != term.negated})
        else:
            q = interval_q(column, term.test)
            if term.negated:
                q = ~q & Q(**{f"{column}__isnull": False})
        result |= q
    return result


def like_pattern(pattern: str, *, wildcards: bool = True, contains: bool = False) -> str:
    """The user's text as a LIKE pattern (escape ``\\``): their ``%`` and ``_`` stay literal."""
    out = []
    for ch in pattern:
        if wildcards and ch == "*":
            out.append("%")
        elif wildcards and ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    body = "".join(out)
    return f"%{body}%" if contains else body


def glob_pattern(pattern: str, *, wildcards: bool = True, contains: bool = False) -> str:
    """The same as a SQLite GLOB pattern (case-sensitive, where SQLite's LIKE is not)."""
    out = []
    for ch in pattern:
        if wildcards and ch in "*?":
            out.append(ch)
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    body = "".join(out)
    return f"*{body}*" if contains else body


class Like(Lookup):
    """``column LIKE pattern`` built from a user's wildcard text, usable directly in ``Q()``.

    Case-insensitive as Django's ``icontains`` writes it (``UPPER(col::text) LIKE UPPER(%s)`` on
    PostgreSQL, so the trigram indexes on ``UPPER(col::text)`` serve it); case-sensitive through
    ``LIKE`` on PostgreSQL and ``GLOB`` on SQLite. LIKE, unlike a regular expression, cannot
    backtrack exponentially on a pattern such as ``*a*a*a*a*b``.
    """

    lookup_name = "portal_like"
    prepare_rhs = False

    def __init__(self, lhs, pattern: str, *, case_sensitive: bool = False, **options) -> None:
        self.pattern = pattern
        self.case_sensitive = case_sensitive
        self.options = options  # wildcards, contains
        super().__init__(lhs, pattern)

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        params = list(params)
        if connection.vendor == "sqlite":
            if self.case_sensitive:
                return f"{lhs} GLOB %s", [*params, glob_pattern(self.pattern, **self.options)]
            return f"{lhs} LIKE %s ESCAPE '\\'", [
                *params,
                like_pattern(self.pattern, **self.options),
            ]
        like = like_pattern(self.pattern, **self.options)
        text = f"({lhs})::text" if connection.vendor == "postgresql" else lhs
        if self.case_sensitive or upper_text.is_upper_copy(self.lhs):
            # A stored upper-case copy is compared as it is (``queries.upper_text``).
            pattern = "%s" if self.case_sensitive else "UPPER(%s)"
            return f"{text} LIKE {pattern} ESCAPE '\\'", [*params, like]
        return f"UPPER({text}) LIKE UPPER(%s) ESCAPE '\\'", [*params, like]


def string_term_q(
    column: str,
    term: syntax.StringTerm,
    *,
    match: str,
    case_sensitive: bool = False,
    upper_copies: Mapping[str, str] | None = None,
) -> Q:
    """One text term. Plain text uses Django's lookups (their indexes); wildcards use ``Like``.

    ``match="contains"`` fields find plain text anywhere; a pattern with wildcards, or ALMA's
    ``=``/``==``, must match the whole value. ``upper_copies`` ({column: field}): a
    case-insensitive term compares the column's stored upper-case copy instead, which selects
    the same rows (``queries.upper_text``).
    """
    case_sensitive = case_sensitive or term.case_sensitive
    if not case_sensitive and upper_copies:
        column = upper_copies.get(column, column)
    i = "" if case_sensitive else "i"
    pattern = term.pattern
    if term.has_wildcards and pattern == "*":
        return Q(**{f"{column}__isnull": False})
    if not term.has_wildcards:
        if match == "contains" and not term.anchored:
            if case_sensitive:
                return Q(
                    Like(F(column), pattern, case_sensitive=True, wildcards=False, contains=True)
                )
            return Q(**{f"{column}__icontains": pattern})
        return Q(**{f"{column}__{i}exact": pattern})
    inner = pattern.strip("*")
    if not case_sensitive and inner and "*" not in inner and "?" not in inner:
        # Leading/trailing * only: Django's escaped LIKE lookups, which the indexes serve.
        if pattern.startswith("*") and pattern.endswith("*"):
            return Q(**{f"{column}__icontains": inner})
        if pattern.endswith("*"):
            return Q(**{f"{column}__istartswith": inner})
        return Q(**{f"{column}__iendswith": inner})
    return Q(Like(F(column), pattern, case_sensitive=case_sensitive))


def string_q(
    columns: tuple[str, ...],
    constraint: syntax.StringConstraint,
    *,
    match: str,
    key: Callable[[str], str] | None = None,
    case_sensitive: bool = False,
    upper_copies: Mapping[str, str] | None = None,
) -> Q:
    """Positive terms OR-ed (on any of ``columns``), negated terms AND-ed; ``upper_copies`` as
    ``string_term_q`` says."""
    positive = Q(pk__in=[])
    negative = Q()
    has_positive = False
    for term in constraint.terms:
        if key is not None:
            term = replace(term, pattern=key(term.pattern))
        column_q = Q(pk__in=[])
        for column in columns:
            column_q |= string_term_q(
                column,
                term,
                match=match,
                case_sensitive=case_sensitive,
                upper_copies=upper_copies,
            )
        if term.negated:
            negative &= ~column_q
        else:
            has_positive = True
            positive |= column_q
    return (positive if has_positive else Q()) & negative


def _mirror_stats() -> dict:
    """What the filters need to know about the mirror's rows, cached: half the widest footprint
    (the cone's sky-box padding) and the band masks the rows carry (``bands_q``).

    Read from the data rather than assumed, so a wide mosaic or single-dish map is never cut by
    the prefilter and no band combination is missed; every writer of observations (loader,
    harvest, ``synth_archive``) calls ``forget_max_fov`` when it is done. With the cache down
    they are read from the data each time (two index descents), so searches still answer.
    """
    try:
        cached = cache.get(MIRROR_STATS_CACHE_KEY)
    except RedisError as error:
        log.warning("filters: mirror stats not cached, the cache is unavailable (%s)", error)
        return _read_mirror_stats()
    if cached is None:
        cached = _read_mirror_stats()
        try:
            cache.set(MIRROR_STATS_CACHE_KEY, cached, timeout=MIRROR_STATS_SECONDS)
        except RedisError as error:
            log.warning("filters: mirror stats not cached, the cache is unavailable (%s)", error)
    return cached


def _read_mirror_stats() -> dict:
    widest = Observation.objects.aggregate(m=Max("s_fov"))["m"] or 0.0
    return {"half_fov": min(float(widest), 180.0) / 2, "masks": _present_band_masks()}


def _present_band_masks() -> list[int]:
    """Distinct ``band_mask`` values of the observations: a handful (one band per spectral
    window), found by one index descent each (a loose index scan) rather than by reading a
    million index entries."""
    table = connection.ops.quote_name(Observation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE masks(m) AS (SELECT MIN(band_mask) FROM {table} "
            f"UNION ALL SELECT (SELECT MIN(band_mask) FROM {table} WHERE band_mask > masks.m) "
            "FROM masks WHERE masks.m IS NOT NULL) SELECT m FROM masks WHERE m IS NOT NULL"
        )
        return [row[0] for row in cursor.fetchall()]


def max_half_fov() -> float:
    """Half the widest footprint in the mirror (deg), cached: the cone's sky-box padding."""
    return _mirror_stats()["half_fov"]


def forget_max_fov() -> None:
    """Forget what ``_mirror_stats`` cached (widest footprint, band masks): rows were written.
    Never fails a writer: with the cache unreachable the stats it holds (if it kept them)
    expire within ``MIRROR_STATS_SECONDS``, and the error says so."""
    try:
        cache.delete(MIRROR_STATS_CACHE_KEY)
    except RedisError as error:
        log.error(
            "filters: could not forget the cached mirror stats (%s); a cone search may pad by "
            "the old widest footprint for up to %d s",
            error,
            MIRROR_STATS_SECONDS,
        )


def _ra_band(ra: float, dec: float, pad: float) -> Q:
    """RA limits of the sky box around (ra, dec) of half-size ``pad``; none near the poles."""
    edge = abs(dec) + pad
    if edge >= 89.0:
        return Q()
    half_width = pad / math.cos(math.radians(edge))
    if half_width >= 180.0:
        return Q()
    low, high = ra - half_width, ra + half_width
    if low < 0:
        return Q(s_ra__gte=low + 360) | Q(s_ra__lte=high)
    if high >= 360:
        return Q(s_ra__gte=low) | Q(s_ra__lte=high - 360)
    return Q(s_ra__gte=low, s_ra__lte=high)


# Declination zones of the sky index (migration 0007's ``obs_sky_zone``): zone = floor(dec * 2).
ZONES_PER_DEGREE = 2
# Beyond this many zones (a cone wider than ~30 degrees) naming them costs more descents than
# the declination range saves.
MAX_ZONES = 60


def sky_zone() -> Floor:
    """The zone expression exactly as the index has it, so the planner can match the two."""
    return Floor(F("s_dec") * Value(float(ZONES_PER_DEGREE)))


def zones_q(low_dec: float, high_dec: float) -> Q:
    """The declination zones that [low_dec, high_dec] touches, as ``zone IN (...)``.

    Why: a btree on (s_dec, s_ra) bounds a cone by declination only, so it reads every entry
    of the strip all round the sky (~180k entries for 0.66 degrees of Orion's strip on 1M
    rows) and tests RA on each; with the zones named, the zone index (``obs_sky_zone``:
    (zone, s_ra), covering) descends once per zone and reads only the RA window of each (the
    box: ~48k). Redundant with the declination bounds, so it never changes what matches."""
    first = math.floor(max(-90.0, low_dec) * ZONES_PER_DEGREE)
    last = math.floor(min(90.0, high_dec) * ZONES_PER_DEGREE)
    if last - first + 1 > MAX_ZONES:
        return Q()
    return Q(In(sky_zone(), [float(z) for z in range(first, last + 1)]))


def cone_q(cone: syntax.Cone) -> Q:
    if cone.frame == "galactic":
        cone = syntax.Cone(*galactic_to_icrs(cone.ra, cone.dec), cone.radius)
    x0, y0, z0 = unit_vector(cone.ra, cone.dec)
    # A row can match when its centre is within radius + its own s_fov/2: pad the sky box by
    # the widest footprint, then let the exact test decide.
    pad = cone.radius + max_half_fov() + 1e-9
    band = Q(s_dec__gte=cone.dec - pad) if cone.dec - pad > -90 else Q()
    if cone.dec + pad < 90:
        band &= Q(s_dec__lte=cone.dec + pad)
    band &= _ra_band(cone.ra, cone.dec, pad)
    band &= zones_q(cone.dec - pad, cone.dec + pad)
    dot = F("s_x") * x0 + F("s_y") * y0 + F("s_z") * z0
    limit = Cos((Value(cone.radius) + Coalesce(F("s_fov"), Value(0.0)) / 2) * (math.pi / 180))
    return band & Q(GreaterThanOrEqual(dot, limit))


def box_q(box: syntax.Box) -> Q:
    lon, lat = ("gal_longitude", "gal_latitude") if box.frame == "galactic" else ("s_ra", "s_dec")
    q = Q()
    if box.ra is not None:
        q &= numeric_q(lon, box.ra)
    if box.dec is not None:
        q &= numeric_q(lat, box.dec)
    return q


def position_q(constraint: syntax.Position) -> Q:
    if isinstance(constraint, syntax.AnyPosition):
        q = Q(pk__in=[])
        for alternative in constraint.alternatives:
            q |= position_q(alternative)
        return q
    return cone_q(constraint) if isinstance(constraint, syntax.Cone) else box_q(constraint)


def band_bits_q(constraint: syntax.BandConstraint) -> Q:
    """The band test as a bit test on ``band_mask``: for the aggregate tables (member OUS,
    project summary), whose masks are unions of their rows' bands."""
    mask = sum(1 << b for b in constraint.bands)
    q = Q(GreaterThan(F("band_mask").bitand(mask), 0))
    return ~q if constraint.negated else q


def bands_q(constraint: syntax.BandConstraint) -> Q:
    """The band test on observations: the bit test, and the same rows named as the list of
    masks present in the mirror that have one of the bits. The list is what lets the
    ``(band_mask, zone, s_ra)`` index (migration 0007) read only the band's rows of a cone's
    strip: a bit test cannot bound a btree, and a list of every possible mask (1,024 per band)
    costs the index more descents than it saves."""
    mask = sum(1 << b for b in constraint.bands)
    # Each band's own mask always: a row of one band (ALMA's case) is found even before the
    # cached list has seen it.
    masks = {m for m in _mirror_stats()["masks"] if m & mask} | {1 << b for b in constraint.bands}
    q = Q(band_mask__in=sorted(masks)) & Q(GreaterThan(F("band_mask").bitand(mask), 0))
    return ~q if constraint.negated else q


def line_q(frequencies_ghz: list[float]) -> Q:
    """Rows with a spectral window covering any of the observed frequencies (GHz).

    ``lo_ghz`` is bounded below by the frequency less the widest window the mirror holds, so
    the index reads only windows that could reach the line and checks ``hi_ghz`` in place."""
    widest = widest_window_ghz()
    q = Q()
    for f in frequencies_ghz:
        covering = SpectralWindow.objects.filter(
            lo_ghz__gte=f - widest, lo_ghz__lte=f, hi_ghz__gte=f
        ).values("observation_id")
        q |= Q(pk__in=covering)
    return q


def observation_filter(parsed: ParsedQuery, *, now: datetime | None = None) -> Q:
    """The ``Q`` selecting every observation that satisfies all constraints (each field's kind
    says how: ``queries.kinds``)."""
    q = Q()
    for spec, node in parsed.items():
        q &= spec.kind.q(spec, node, now=now)
    return q
