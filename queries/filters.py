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
such as ``*a*a*a*b`` could make backtrack for minutes on SQLite). Project title, abstract, PI,
authors and keywords are matched on the per-project table (one row per project, trigram
indexed; ``hierarchy.py`` fills it from the same ObsCore columns) and select observations by
``project_id``. Source names compare ``names.name_key`` forms, the key the loader stores.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from django.core.cache import cache
from django.db.models import F, Lookup, Q, Value
from django.db.models.functions import Coalesce, Cos
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual

from archiveportal import clock
from queries import syntax
from queries.fields import BY_NAME, POLARISATION_STATES, ParsedQuery
from queries.models import MemberOUS
from queries.names import name_key
from queries.units import unit_vector

MAX_FOV_CACHE_KEY = "queries:max-half-fov"


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
    from django.db.models import IntegerField

    from queries.models import Observation

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
        if self.case_sensitive:
            return f"{text} LIKE %s ESCAPE '\\'", [*params, like]
        return f"UPPER({text}) LIKE UPPER(%s) ESCAPE '\\'", [*params, like]


def string_term_q(
    column: str, term: syntax.StringTerm, *, match: str, case_sensitive: bool = False
) -> Q:
    """One text term. Plain text uses Django's lookups (their indexes); wildcards use ``Like``.

    ``match="contains"`` fields find plain text anywhere; a pattern with wildcards, or ALMA's
    ``=``/``==``, must match the whole value.
    """
    case_sensitive = case_sensitive or term.case_sensitive
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
) -> Q:
    """Positive terms OR-ed (on any of ``columns``), negated terms AND-ed."""
    positive = Q(pk__in=[])
    negative = Q()
    has_positive = False
    for term in constraint.terms:
        if key is not None:
            term = replace(term, pattern=key(term.pattern))
        column_q = Q(pk__in=[])
        for column in columns:
            column_q |= string_term_q(column, term, match=match, case_sensitive=case_sensitive)
        if term.negated:
            negative &= ~column_q
        else:
            has_positive = True
            positive |= column_q
    return (positive if has_positive else Q()) & negative


def alma_name_key(pattern: str) -> str:
    """A source-name pattern in the loader's key form (``names.name_key``), wildcards kept."""
    return "".join(ch if ch in "*?" else name_key(ch) for ch in pattern)


# Project-level text lives once per project: search the (small, trigram-indexed) project table
# and select its observations by project id, instead of scanning every observation's copy.
PROJECT_TEXT = {
    "project_title": ("title",),
    "project_abstract": ("abstract",),
    "pi_name": ("pi_name",),
    "proposal_authors": ("proposal_authors",),
    "science_keyword": ("science_keyword",),
    "scientific_category": ("scientific_category",),
}


def project_text_q(name: str, constraint: syntax.StringConstraint, *, match: str) -> Q:
    from queries.models import Project

    projects = Project.objects.filter(string_q(PROJECT_TEXT[name], constraint, match=match))
    return Q(project_id__in=projects.values("id"))


def max_half_fov() -> float:
    """Half the widest footprint in the mirror (deg), cached: the cone's sky-box padding.

    Read from the data rather than assumed, so a wide mosaic or single-dish map is never cut by
    the prefilter; the loaders clear the cache when they write rows.
    """
    cached = cache.get(MAX_FOV_CACHE_KEY)
    if cached is None:
        from django.db.models import Max

        from queries.models import Observation

        widest = Observation.objects.aggregate(m=Max("s_fov"))["m"] or 0.0
        cached = min(float(widest), 180.0) / 2
        cache.set(MAX_FOV_CACHE_KEY, cached, timeout=600)
    return cached


def forget_max_fov() -> None:
    cache.delete(MAX_FOV_CACHE_KEY)


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


def cone_q(cone: syntax.Cone) -> Q:
    if cone.frame == "galactic":
        from astropy.coordinates import SkyCoord

        icrs = SkyCoord(l=cone.ra, b=cone.dec, unit="deg", frame="galactic").icrs
        cone = syntax.Cone(float(icrs.ra.deg), float(icrs.dec.deg), cone.radius)
    x0, y0, z0 = unit_vector(cone.ra, cone.dec)
    # A row can match when its centre is within radius + its own s_fov/2: pad the sky box by
    # the widest footprint, then let the exact test decide.
    pad = cone.radius + max_half_fov() + 1e-9
    band = Q(s_dec__gte=cone.dec - pad) if cone.dec - pad > -90 else Q()
    if cone.dec + pad < 90:
        band &= Q(s_dec__lte=cone.dec + pad)
    band &= _ra_band(cone.ra, cone.dec, pad)
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


def bands_q(constraint: syntax.BandConstraint) -> Q:
    mask = sum(1 << b for b in constraint.bands)
    q = Q(GreaterThan(F("band_mask").bitand(mask), 0))
    return ~q if constraint.negated else q


def observation_filter(parsed: ParsedQuery, *, now: datetime | None = None) -> Q:
    """The ``Q`` selecting every observation that satisfies all constraints."""
    q = Q()
    for name, constraint in parsed.constraints.items():
        spec = BY_NAME[name]
        kind = spec.kind
        if kind in ("numeric", "date"):
            q &= numeric_q(spec.columns[0], constraint)
        elif name in PROJECT_TEXT:
            q &= project_text_q(name, constraint, match=spec.match)
        elif name == "project_code":
            # Codes are upper case (2017.1.00079.S): compare exactly, so the index serves it.
            q &= string_q(
                spec.columns, constraint, match=spec.match, key=str.upper, case_sensitive=True
            )
        elif kind in ("string", "choice"):
            q &= string_q(spec.columns, constraint, match=spec.match)
        elif kind == "name_alma":
            # Keys are lower case: ALMA's case-sensitive '=' cannot apply to them.
            insensitive = syntax.StringConstraint(
                tuple(replace(t, case_sensitive=False) for t in constraint.terms)
            )
            q &= string_q(spec.columns, insensitive, match="exact", key=alma_name_key)
        elif kind in ("position", "galactic", "name_resolver"):
            q &= position_q(constraint)
        elif kind == "bands":
            q &= bands_q(constraint)
        elif kind == "array":
            q &= Q(
                member_ous__antenna_array__in=[
                    {"12m": "12m", "7m": "7m", "tp": "TP"}[v] for v in constraint
                ]
            )
        elif kind == "polarisation":
            states = [s for v in constraint for s in POLARISATION_STATES[v]]
            q &= Q(pol_states__in=states)
        elif kind == "yesno":
            q &= _yes_no_q(name, constraint, now=now)
    return q


def _yes_no_q(name: str, yes: bool, *, now: datetime | None = None) -> Q:
    if name == "public_data":
        # Public means released: the member OUS's rule (``MemberOUS.released_q``), the one
        # downloads/access.py applies, on the portal clock. Not the row's own obs_release_date:
        # rows of one member OUS may disagree and the member OUS keeps the latest, and an
        # archive 'Public' mark is not trusted either. "no" leaves the search unrestricted, as
        # on ALMA's form.
        return MemberOUS.released_q(now or clock.now(), prefix="member_ous__") if yes else Q()
    if name == "science_observation":
        return Q(science_observation="T") if yes else Q()
    if name == "mosaic":
        return Q(is_mosaic="T") if yes else ~Q(is_mosaic="T")
    if name == "published":
        published = Q(bib_reference__gt="")
        return published if yes else ~published
    raise AssertionError(name)
