"""ALMA's query syntax: one row per accepted form, one per rejected form with its message."""

from __future__ import annotations

import pytest

from queries import syntax
from queries.errors import QueryInputError
from queries.syntax import Interval, NullTest, Term

I = Interval  # noqa: E741 (reads like the maths)

NUMERIC_ACCEPTED = [
    ("5", (Term(I(5, 5)),)),
    ("=5", (Term(I(5, 5)),)),
    ("!=5", (Term(I(5, 5), negated=True),)),
    ("<5", (Term(I(high=5, high_inclusive=False)),)),
    ("<=5", (Term(I(high=5)),)),
    (">5", (Term(I(low=5, low_inclusive=False)),)),
    (">=5", (Term(I(low=5)),)),
    ("84..116", (Term(I(84, 116)),)),
    ("!(84..116)", (Term(I(84, 116), negated=True),)),
    ("<0.5|>1", (Term(I(high=0.5, high_inclusive=False)), Term(I(low=1, low_inclusive=False)))),
    ("null", (Term(NullTest(True)),)),
    ("!null", (Term(NullTest(False)),)),
    (" 1e3 ", (Term(I(1000, 1000)),)),
    ("-.5..+2", (Term(I(-0.5, 2)),)),
]
NUMERIC_REJECTED = [
    "abc",
    "5..",
    "..5",
    "2..1",
    "<",
    "1|",
    "nan",
    "inf",
    "1,5",
    "!(!(1..2))",
    "5; DROP TABLE x",
    "1" * 2000,
    "\u00bd",
    "(1..2",
]


@pytest.mark.parametrize(("text", "terms"), NUMERIC_ACCEPTED)
def test_numeric_forms_are_accepted(text, terms):
    assert syntax.parse_numeric("frequency", text).terms == terms


@pytest.mark.parametrize("text", NUMERIC_REJECTED)
def test_numeric_garbage_is_rejected_naming_field_and_syntax(text):
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_numeric("frequency", text, label="Frequency")
    message = str(caught.value)
    assert message.startswith("Frequency: ")
    assert "Accepted: 5, =5, !=5, <5" in message


def test_numeric_values_are_scaled_to_storage_units():
    constraint = syntax.parse_numeric("fov", "60..120", scale=1 / 3600)
    assert constraint.terms[0].test.low == pytest.approx(60 / 3600)


DATES = [
    ("01-02-2019", 58515.0, 58516.0, True, False),
    ("2019-02-01", 58515.0, 58516.0, True, False),
    ("<2019-02-01", None, 58515.0, True, False),
    ("<=2019-02-01", None, 58516.0, True, False),
    (">2019-02-01", 58516.0, None, True, True),
    (">=01-02-2019", 58515.0, None, True, True),
    ("2019-02-01..2019-02-03", 58515.0, 58518.0, True, False),
]


@pytest.mark.parametrize(("text", "low", "high", "low_incl", "high_incl"), DATES)
def test_dates_become_mjd_intervals_covering_whole_days(text, low, high, low_incl, high_incl):
    interval = syntax.parse_date("start_date", text).terms[0].test
    assert (interval.low, interval.high) == (low, high)
    if low is not None:
        assert interval.low_inclusive is low_incl
    if high is not None:
        assert interval.high_inclusive is high_incl


@pytest.mark.parametrize("text", ["2019-13-01", "32-01-2019", "yesterday", "2019/02", "01-02-19"])
def test_bad_dates_are_rejected(text):
    with pytest.raises(QueryInputError, match="Accepted: DD-MM-YYYY or YYYY-MM-DD"):
        syntax.parse_date("start_date", text)


POSITIONS = [
    ("12:13:14.0 -00:01:02.1, 0.05", 183.308333, -0.017250, 0.05),
    ("181.0192 -0.01928, 0.05", 181.0192, -0.01928, 0.05),
    ("181.0192 -0.01928, 30arcsec", 181.0192, -0.01928, 30 / 3600),
    ('181.0192 -0.01928, 30"', 181.0192, -0.01928, 30 / 3600),
    ("181.0192 -0.01928, 2'", 181.0192, -0.01928, 2 / 60),
    ("181.0192 -0.01928, 2arcmin", 181.0192, -0.01928, 2 / 60),
    ("181.0192 -0.01928, 0.1deg", 181.0192, -0.01928, 0.1),
    ("181.0192 -0.01928", 181.0192, -0.01928, 10 / 60),
    ("12h13m14.0s -00d01m02.1s, 1'", 183.308333, -0.017250, 1 / 60),
    ("12 13 14.0 -00 01 02.1, 1'", 183.308333, -0.017250, 1 / 60),
]


@pytest.mark.parametrize(("text", "ra", "dec", "radius"), POSITIONS)
def test_positions_in_sexagesimal_or_degrees_with_radius_units(text, ra, dec, radius):
    cone = syntax.parse_position("ra_dec", text)
    assert cone.ra == pytest.approx(ra, abs=1e-5)
    assert cone.dec == pytest.approx(dec, abs=1e-5)
    assert cone.radius == pytest.approx(radius)


def test_position_ranges_give_a_box():
    box = syntax.parse_position("ra_dec", "181..185 >-0.1928")
    assert box.ra.terms[0].test == I(181, 185)
    assert box.dec.terms[0].test == I(low=-0.1928, low_inclusive=False)


@pytest.mark.parametrize(
    "text",
    [
        "M83",
        "400 10, 1",
        "10 -95, 1",
        "10 10, -1",
        "10 10, 5 parsec",
        "10 10, 0",
        "12:61:00 10:00:00, 1",
        "1 2 3, 1",
    ],
)
def test_bad_positions_are_rejected(text):
    with pytest.raises(QueryInputError, match="RA Dec"):
        syntax.parse_position("ra_dec", text, label="RA Dec")


@pytest.mark.parametrize(
    ("text", "bands", "negated"),
    [
        ("3", {3}, False),
        ("3 6", {3, 6}, False),
        ("3|6", {3, 6}, False),
        ("3,6", {3, 6}, False),
        ("10", {10}, False),
        ("!(3|6)", {3, 6}, True),
        ("band 7", {7}, False),
    ],
)
def test_bands_are_whole_tokens(text, bands, negated):
    constraint = syntax.parse_bands("band_list", text)
    assert constraint.bands == frozenset(bands)
    assert constraint.negated is negated


@pytest.mark.parametrize("text", ["11", "0", "three", "3..6", ""])
def test_bad_bands_are_rejected(text):
    with pytest.raises(QueryInputError, match="Accepted: ALMA band numbers 1 to 10"):
        syntax.parse_bands("band_list", text)


@pytest.mark.parametrize(
    ("text", "patterns"),
    [
        ("M83", [("M83", False)]),
        ("M83|NGC*", [("M83", False), ("NGC*", False)]),
        ("!M83", [("M83", True)]),
        ("N?C 1068", [("N?C 1068", False)]),
        ("*", [("*", False)]),
        ("50%_off", [("50%_off", False)]),
    ],
)
def test_strings_keep_wildcards_alternatives_and_negation(text, patterns):
    terms = syntax.parse_string("project_title", text).terms
    assert [(t.pattern, t.negated) for t in terms] == patterns


@pytest.mark.parametrize("text", ["a|", "!", "x\x00y"])
def test_bad_strings_are_rejected(text):
    with pytest.raises(QueryInputError):
        syntax.parse_string("project_title", text)
