"""The same parsed constraints rendered as ADQL for ALMA's TAP service (``ivoa.obscore``).

Every literal is produced from parsed values, never pasted from the user's text: numbers are
formatted from floats and strings are quoted with single quotes doubled. Known astroquery bugs
are avoided: ``<`` stays strict, ``?`` is a one-character wildcard on its own, band 1 does not
match band 10, and PI names are searched in ``pi_name``/``obs_creator_name``.
"""

from __future__ import annotations

import json

from queries import syntax
from queries.fields import BY_NAME, POLARISATION_STATES, ParsedQuery

# Mirror-only columns -> the archive's: the mirror searches keys the archive does not have.
ARCHIVE_COLUMNS = {"target_name_key": "target_name", "member_ous__antenna_array": None}


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def number(value: float) -> str:
    return repr(float(value))


def _interval(column: str, interval: syntax.Interval) -> str:
    parts = []
    if interval.low is not None:
        parts.append(f"{column} {'>=' if interval.low_inclusive else '>'} {number(interval.low)}")
    if interval.high is not None:
        parts.append(f"{column} {'<=' if interval.high_inclusive else '<'} {number(interval.high)}")
    return " AND ".join(parts) or f"{column} IS NOT NULL"


def numeric(column: str, constraint: syntax.NumericConstraint) -> str:
    alternatives = []
    for term in constraint.terms:
        if isinstance(term.test, syntax.NullTest):
            null = term.test.is_null != term.negated
            alternatives.append(f"{column} IS {'' if null else 'NOT '}NULL")
        elif term.negated:
            alternatives.append(f"(NOT ({_interval(column, term.test)}) AND {column} IS NOT NULL)")
        else:
            alternatives.append(f"({_interval(column, term.test)})")
    return "(" + " OR ".join(alternatives) + ")"


def _like_pattern(pattern: str, *, match: str, has_wildcards: bool) -> str:
    body = pattern.lower().replace("*", "%").replace("?", "_")
    if match == "contains" and not has_wildcards:
        body = f"%{body}%"
    return body


def string(columns: tuple[str, ...], constraint: syntax.StringConstraint, *, match: str) -> str:
    positive, negative = [], []
    for term in constraint.terms:
        pattern = _like_pattern(term.pattern, match=match, has_wildcards=term.has_wildcards)
        per_column = " OR ".join(f"LOWER({c}) LIKE {literal(pattern)}" for c in columns)
        (negative if term.negated else positive).append(f"({per_column})")
    parts = []
    if positive:
        parts.append("(" + " OR ".join(positive) + ")")
    parts += [f"NOT {n}" for n in negative]
    return " AND ".join(parts)


def position(constraint: syntax.Cone | syntax.Box) -> str:
    if isinstance(constraint, syntax.Cone):
        ra, dec = constraint.ra, constraint.dec
        if constraint.frame == "galactic":
            from astropy.coordinates import SkyCoord

            icrs = SkyCoord(l=ra, b=dec, unit="deg", frame="galactic").icrs
            ra, dec = float(icrs.ra.deg), float(icrs.dec.deg)
        return (
            f"INTERSECTS(CIRCLE('ICRS',{number(ra)},{number(dec)},"
            f"{number(constraint.radius)}), s_region) = 1"
        )
    lon, lat = (
        ("gal_longitude", "gal_latitude") if constraint.frame == "galactic" else ("s_ra", "s_dec")
    )
    parts = []
    if constraint.ra is not None:
        parts.append(numeric(lon, constraint.ra))
    if constraint.dec is not None:
        parts.append(numeric(lat, constraint.dec))
    return " AND ".join(parts)


def bands(constraint: syntax.BandConstraint) -> str:
    # band_list is space separated: match whole tokens only.
    alternatives = []
    for band in sorted(constraint.bands):
        b = str(band)
        alternatives.append(
            f"(band_list = '{b}' OR band_list LIKE '{b} %' OR band_list LIKE '% {b}' "
            f"OR band_list LIKE '% {b} %')"
        )
    text = "(" + " OR ".join(alternatives) + ")"
    return f"NOT {text}" if constraint.negated else text


def to_adql(parsed: ParsedQuery, *, table: str = "ivoa.obscore") -> str:
    where = []
    for name, constraint in parsed.constraints.items():
        spec = BY_NAME[name]
        kind = spec.kind
        if kind in ("numeric", "date"):
            where.append(numeric(spec.columns[0], constraint))
        elif kind in ("string", "choice"):
            where.append(string(spec.columns, constraint, match=spec.match))
        elif kind == "name_alma":
            where.append(string(("target_name",), constraint, match="exact"))
        elif kind in ("position", "galactic", "name_resolver"):
            where.append(position(constraint))
        elif kind == "bands":
            where.append(bands(constraint))
        elif kind == "polarisation":
            states = ", ".join(
                literal(s) for v in sorted(constraint) for s in POLARISATION_STATES[v]
            )
            where.append(f"pol_states IN ({states})")
        elif kind == "yesno":
            clause = {
                ("public_data", True): "data_rights = 'Public'",
                ("science_observation", True): "science_observation = 'T'",
                ("mosaic", True): "is_mosaic = 'T'",
                ("mosaic", False): "is_mosaic = 'F'",
                ("published", True): "bib_reference IS NOT NULL",
                ("published", False): "bib_reference IS NULL",
            }.get((name, constraint))
            if clause:
                where.append(clause)
        # array: the archive has no column for it; the mirror filters it afterwards.
    query = f"SELECT * FROM {table}"
    if where:
        query += " WHERE " + " AND ".join(where)
    return query


def astroquery_snippet(adql: str) -> str:
    """Python that fetches the same rows with astroquery, ready to copy."""
    return (
        "from astroquery.alma import Alma\n\n"
        "alma = Alma()\n"
        f"result = alma.query_tap({json.dumps(adql)}).to_table()\n"
        "print(len(result), 'rows')\n"
    )
