"""The same parsed constraints rendered as ADQL for ALMA's TAP service (``ivoa.obscore``).

Invariants:

* Every literal comes from parsed values, never pasted from the user's text: numbers are
  formatted from finite floats, strings are quoted with single quotes doubled, and the table
  name must be a plain (schema-qualified) identifier.
* The archive may return MORE rows than the mirror's filter selects, never fewer: rows it returns
  are upserted into the mirror and the mirror's exact filter (``queries.filters``) decides what
  is shown. So where ADQL cannot say exactly what the mirror means, it says something wider:
  ADQL's LIKE has no escape character, so a user's literal ``%`` or ``_`` also matches other
  characters there; source names match with any separator between their words and between
  letters and digits (``NGC 1068`` -> ``LOWER(target_name) LIKE 'ngc%1068'``); the array is
  read from ``antenna_arrays`` (DA/DV 12m, CM 7m, PM TP). The one exception is position, where
  ALMA's ``INTERSECTS(CIRCLE, s_region)`` is exact and the mirror's footprint circle is wider.
* "Public data only" sends no clause at all: the archive is over-fetched and the mirror's release
  rule (``MemberOUS.released_q``, the one downloads apply) decides. ALMA's ``ivoa.obscore`` only
  has ``data_rights`` and the row's ``obs_release_date``, and neither says what the portal means:
  ``data_rights='Public'`` is the archive's mark, set on its own schedule (a row can be marked
  before or after its date, and ALMA has moved dates after the fact), so it could drop rows the
  mirror counts as released; ``obs_release_date <= now`` is per row, while the mirror releases a
  member OUS at the latest date of its rows, and "now" is the archive's clock, not the portal's
  (which tests freeze). Either would break "more rows, never fewer"; no clause cannot.
* Known astroquery bugs are avoided: ``<`` stays strict, ``?`` is a one-character wildcard on
  its own, band 1 does not match band 10, water vapour is ``pwv``, and PI names are searched in
  ``pi_name`` and ``obs_creator_name``. Newer ALMA rows put the observatory, ``ALMA``, in
  ``obs_creator_name`` (``PLACEHOLDERS``): a term never matches a row through that value, so
  ``A*`` does not fetch every newer row and ``!A*`` does not drop them (the mirror's PI name
  never holds it either: ``hierarchy.py``).

Which clause a field writes is its kind's business (``queries.kinds``); this module turns
nodes into ADQL text.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from queries import syntax
from queries.units import galactic_to_icrs

if TYPE_CHECKING:
    from queries.fields import ParsedQuery

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
# Values an archive column holds where it names no one: never matched by a search term.
PLACEHOLDERS = {"obs_creator_name": "ALMA"}


def literal(text: str) -> str:
    """A string literal: single quotes doubled, the only escaping ADQL has."""
    return "'" + str(text).replace("'", "''") + "'"


def number(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return repr(value)


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


def _like_body(pattern: str, *, wildcards: bool) -> str:
    if not wildcards:
        return pattern
    return pattern.replace("*", "%").replace("?", "_")


def string_term(column: str, term: syntax.StringTerm, *, match: str) -> str:
    """One term on one column, with the mirror's meaning (``filters.string_term_q``)."""
    if term.has_wildcards and term.pattern == "*":
        return f"{column} IS NOT NULL"
    folded = term.pattern if term.case_sensitive else term.pattern.lower()
    subject = column if term.case_sensitive else f"LOWER({column})"
    if not term.has_wildcards:
        if match == "contains" and not term.anchored:
            return f"{subject} LIKE {literal('%' + folded + '%')}"
        return f"{subject} = {literal(folded)}"
    return f"{subject} LIKE {literal(_like_body(folded, wildcards=True))}"


def any_of(clauses: list[str]) -> str:
    """Clauses OR-ed, in parentheses unless there is only one."""
    return clauses[0] if len(clauses) == 1 else "(" + " OR ".join(clauses) + ")"


def _combine(positive: list[str], negative: list[str]) -> str:
    """Positive clauses OR-ed, negative ones AND-ed, in one pair of parentheses."""
    parts = []
    if positive:
        parts.append(any_of(positive))
    parts += [f"NOT ({n})" for n in negative]
    return "(" + " AND ".join(parts) + ")"


def _named(column: str, clause: str) -> str:
    if column not in PLACEHOLDERS:
        return clause
    return f"({clause} AND UPPER({column}) <> {literal(PLACEHOLDERS[column])})"


def string(columns: tuple[str, ...], constraint: syntax.StringConstraint, *, match: str) -> str:
    positive, negative = [], []
    for term in constraint.terms:
        clause = any_of([_named(c, string_term(c, term, match=match)) for c in columns])
        (negative if term.negated else positive).append(clause)
    return _combine(positive, negative)


def _name_like(pattern: str) -> str:
    """``NGC_1068`` -> ``ngc%1068``: any separator, or none, where the mirror's key drops one."""
    words = [w for w in re.split(r"[\s_\-]+", pattern.lower()) if w]
    pieces = []
    for word in words:
        pieces += [p for p in re.split(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])", word) if p]
    return "%".join(_like_body(p, wildcards=True) for p in pieces) or "%"


def source_name(constraint: syntax.StringConstraint) -> str:
    positive, negative = [], []
    for term in constraint.terms:
        if term.negated:
            # A wider pattern would exclude rows the mirror keeps: exclude the exact name only.
            negative.append(f"LOWER(target_name) = {literal(term.pattern.lower())}")
        else:
            positive.append(f"LOWER(target_name) LIKE {literal(_name_like(term.pattern))}")
    return _combine(positive, negative)


def _cone(cone: syntax.Cone) -> str:
    ra, dec = cone.ra, cone.dec
    if cone.frame == "galactic":
        ra, dec = galactic_to_icrs(ra, dec)
    return (
        f"INTERSECTS(CIRCLE('ICRS',{number(ra)},{number(dec)},{number(cone.radius)}), s_region) = 1"
    )


def position(constraint: syntax.Position) -> str:
    if isinstance(constraint, syntax.AnyPosition):
        return "(" + " OR ".join(f"({position(p)})" for p in constraint.alternatives) + ")"
    if isinstance(constraint, syntax.Cone):
        return _cone(constraint)
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
    # band_list is space separated: match whole tokens only, never '%1%'.
    alternatives = []
    for band in sorted(constraint.bands):
        b = str(int(band))
        alternatives.append(
            f"(band_list = '{b}' OR band_list LIKE '{b} %' OR band_list LIKE '% {b}' "
            f"OR band_list LIKE '% {b} %')"
        )
    text = "(" + " OR ".join(alternatives) + ")"
    return f"NOT {text}" if constraint.negated else text


def where_clauses(parsed: ParsedQuery) -> list[str]:
    clauses = (spec.kind.adql(spec, node) for spec, node in parsed.items())
    return [clause for clause in clauses if clause is not None]


def to_adql(parsed: ParsedQuery, *, table: str = "ivoa.obscore") -> str:
    if not _IDENTIFIER.match(table):
        raise ValueError(f"not a table name: {table!r}")
    query = f"SELECT * FROM {table}"
    where = where_clauses(parsed)
    if where:
        query += " WHERE " + " AND ".join(where)
    return query


def astroquery_snippet(query: str | ParsedQuery) -> str:
    """Python that fetches the same rows with astroquery, ready to copy: from the ADQL itself
    or from a parsed query."""
    adql = query if isinstance(query, str) else to_adql(query)
    return (
        "from astroquery.alma import Alma\n\n"
        "alma = Alma()\n"
        f"result = alma.query_tap({adql!r}).to_table()\n"
        "print(len(result), 'rows')\n"
    )
