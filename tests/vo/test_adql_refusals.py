"""What the ADQL translator refuses before anything runs, and how it says so."""

from __future__ import annotations

import pytest

from vo import adql, catalogue

HOSTILE = [
    ("SELECT * FROM ivoa.obscore; DROP TABLE queries_observation", "2 statements"),
    ("SELECT pg_sleep(10) FROM ivoa.obscore", "PG_SLEEP is not allowed"),
    ("SELECT pg_read_file('/etc/passwd') FROM ivoa.obscore", "is not allowed"),
    ("SELECT * FROM pg_catalog.pg_tables", "unknown table 'pg_catalog.pg_tables'"),
    ("SELECT * FROM queries_observation", "unknown table 'queries_observation'"),
    ("SELECT * FROM auth_user", "unknown table 'auth_user'"),
    ("DELETE FROM ivoa.obscore", "only SELECT is allowed"),
    ("UPDATE ivoa.obscore SET s_ra = 0", "only SELECT is allowed"),
    ("SELECT nope FROM ivoa.obscore", "unknown column 'nope' in ivoa.obscore (line 1, column 8)"),
    ("SELECT * FROM ivoa.obscore WHERE", "syntax error"),
    ("SELECT * FROM ivoa.obscore WHERE s_ra >", "syntax error near '>'"),
    ("", "QUERY is empty"),
    (
        "SELECT * FROM ivoa.obscore WHERE CONTAINS(POINT('ICRS', 1, 2), s_region)",
        "compared with 0 or 1",
    ),
    (
        "SELECT * FROM ivoa.obscore WHERE 1 = CONTAINS(s_region, s_region)",
        "must be a constant shape",
    ),
    ("SELECT POINT('ICRS', 1, 2) FROM ivoa.obscore", "cannot be selected"),
    (
        "SELECT * FROM ivoa.obscore WHERE 1 = INTERSECTS(CIRCLE('GALACTIC', 1, 2, 3), s_region)",
        "only ICRS",
    ),
    (
        "SELECT * FROM ivoa.obscore WHERE 1 = INTERSECTS(CIRCLE('ICRS', 1, 2, -3), s_region)",
        "radius >= 0",
    ),
    (
        "SELECT * FROM ivoa.obscore WHERE 1 = INTERSECTS(POLYGON('ICRS', 1, 2, 3, 4), s_region)",
        "at least three",
    ),
    ("SELECT TOP -1 * FROM ivoa.obscore", "syntax error near '-' (line 1, column 12)"),
    ("SELECT TOP 1.5 * FROM ivoa.obscore", "TOP takes a whole number"),
    (
        "SELECT * FROM ivoa.obscore WHERE 1 = INTERSECTS(CIRCLE('ICRS', 1, 2, 3), target_name)",
        "not a region",
    ),
    ("SELECT ABS(1, 2) FROM ivoa.obscore", "greater than the maximum number"),
    ("SELECT COORD1(1) FROM ivoa.obscore", "a POINT is expected here"),
    ("SELECT * FROM ivoa.obscore AS a JOIN ivoa.obscore AS a ON a.s_ra = a.s_ra", "used twice"),
    ("SELECT x.s_ra FROM ivoa.obscore AS o", "unknown table or alias 'x'"),
    ("SELECT * FROM ivoa.obscore WHERE target_name = 'x\x00'", "NUL"),
]


@pytest.mark.parametrize(("statement", "message"), HOSTILE)
@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_a_hostile_or_broken_statement_is_refused_with_its_reason(statement, message, vendor):
    with pytest.raises(adql.AdqlError) as refused:
        adql.translate(statement, catalogue.tables(), vendor=vendor)
    assert message in str(refused.value)


def test_strings_are_bound_never_pasted():
    sneaky = "SELECT * FROM ivoa.obscore WHERE target_name = 'x''; DROP TABLE y; --'"
    translation = adql.translate(sneaky, catalogue.tables(), vendor="postgresql")
    assert "DROP" not in translation.sql
    assert translation.params == ["x'; DROP TABLE y; --"]


def test_select_star_is_every_obscore_column_typed_from_the_schema():
    translation = adql.translate("SELECT * FROM ivoa.obscore", catalogue.tables(), vendor="sqlite")
    names = [c.name for c in translation.columns]
    assert names[:3] == ["collections", "o_ucd", "obs_publisher_did"]
    assert len(names) == 73
    types = {c.name: c.datatype for c in translation.columns}
    assert types["s_ra"] == "double"
    assert types["calib_level"] == "int"
    assert types["target_name"] == "char"
