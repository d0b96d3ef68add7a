"""ALMA's query syntax: one row per accepted form, one per rejected form with its message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queries import syntax
from queries.errors import QueryInputError
from queries.syntax import AnyPosition, Box, Cone, Interval, NullTest, StringTerm, Term

I = Interval  # noqa: E741 (reads like the maths)
NUMERIC_SYNTAX_START = "Accepted: 5, =5, !=5, <5"

NUMERIC_ACCEPTED = [
    ("5", (Term(I(5, 5)),)),
    ("=5", (Term(I(5, 5)),)),
    ("!=5", (Term(I(5, 5), negated=True),)),
    ("≠5", (Term(I(5, 5), negated=True),)),
    ("<5", (Term(I(high=5, high_inclusive=False)),)),
    ("<=5", (Term(I(high=5)),)),
    ("≤5", (Term(I(high=5)),)),
    (">5", (Term(I(low=5, low_inclusive=False)),)),
    (">=5", (Term(I(low=5)),)),
    ("≥ 5", (Term(I(low=5)),)),
    ("< 0.49", (Term(I(high=0.49, high_inclusive=False)),)),
    ("84..116", (Term(I(84, 116)),)),
    ("100 .. 300", (Term(I(100, 300)),)),
    ("5..5", (Term(I(5, 5)),)),
    ("(84..116)", (Term(I(84, 116)),)),
    ("!(84..116)", (Term(I(84, 116), negated=True),)),
    ("!(100 .. 300)", (Term(I(100, 300), negated=True),)),
    ("!(5)", (Term(I(5, 5), negated=True),)),
    ("<0.5|>1", (Term(I(high=0.5, high_inclusive=False)), Term(I(low=1, low_inclusive=False)))),
    ("<0.5|null", (Term(I(high=0.5, high_inclusive=False)), Term(NullTest(True)))),
    ("null", (Term(NullTest(True)),)),
    ("NULL", (Term(NullTest(True)),)),
    ("!null", (Term(NullTest(False)),)),
    (" 1e3 ", (Term(I(1000, 1000)),)),
    ("2e6..3e6", (Term(I(2e6, 3e6)),)),
    ("-.5..+2", (Term(I(-0.5, 2)),)),
    ("\u22125", (Term(I(-5, -5)),)),  # a typographic minus pasted from a paper
]
NUMERIC_REJECTED = [
    ("abc", "is not understood: 'abc' is not a number."),
    ("84..", "is not understood: it has a range with a missing end"),
    ("..5", "is not understood: it has a range with a missing end"),
    ("2..1", "is not understood: it has a range whose start is after its end"),
    ("<", "is not understood: it has '<' without a value."),
    ("1|", "is not understood: it has an empty alternative around '|'."),
    ("|", "is not understood: it has an empty alternative around '|'."),
    ("nan", "is not understood: 'nan' is not a number."),
    ("inf", "is not understood: 'inf' is not a number."),
    ("1e999", "is out of range: '1e999'."),
    ("1,5", "is not understood: '1,5' is not a number."),
    ("!(!(1..2))", "is not understood: it negates a negation."),
    ("!(1|2)", "is not understood: '1|2' is not a number."),
    ("5; DROP TABLE x", "is not understood: '5; DROP TABLE x' is not a number."),
    ("1" * 2000, "is too long (at most 1000 characters)."),
    ("\u00bd", "is not a number."),
    ("\u0661", "is not a number."),  # Arabic-Indic one: digits are ASCII only
    ("\uff11", "is not a number."),  # full-width one
    ("(1..2", "is not understood: it has a '(' without its ')'."),
    ("1..2)", "is not understood: it has a ')' without its '('."),
    ("((((((((((1))))))))))))", "is not understood: it has a ')' without its '('."),
    ("5\x00", "contains control characters."),
    ("5\ud800", "contains characters that are not text."),
    ("|".join(["1"] * 51), "has more than 50 alternatives."),
]


@pytest.mark.parametrize(("text", "terms"), NUMERIC_ACCEPTED)
def test_numeric_forms_are_accepted(text, terms):
    assert syntax.parse_numeric("frequency", text).terms == terms


@pytest.mark.parametrize(("text", "message"), NUMERIC_REJECTED)
def test_numeric_garbage_is_rejected_naming_field_value_and_syntax(text, message):
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_numeric("frequency", text, label="Frequency")
    error = caught.value
    assert error.field == "frequency"
    assert str(error).startswith("Frequency: '")
    assert message in str(error)
    assert NUMERIC_SYNTAX_START in str(error)


def test_the_message_reads_field_value_reason_then_accepted_syntax():
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_numeric("frequency", "84..", label="Frequency", syntax="84..116, <0.5, >1")
    assert str(caught.value) == (
        "Frequency: '84..' is not understood: it has a range with a missing end "
        "(write a..b, <b or >a). Accepted: 84..116, <0.5, >1"
    )


def test_numeric_values_are_scaled_to_storage_units():
    constraint = syntax.parse_numeric("fov", "60..120", scale=1 / 3600)
    assert constraint.terms[0].test.low == pytest.approx(60 / 3600)


def test_a_value_that_overflows_once_scaled_is_rejected():
    with pytest.raises(QueryInputError, match="is out of range"):
        syntax.parse_numeric("bandwidth", ">1e300", scale=1e9)


# MJD 58515 = 2019-02-01 00:00 UTC.
DATES = [
    ("01-02-2019", 58515.0, 58516.0, True, False),
    ("1-2-2019", 58515.0, 58516.0, True, False),
    ("01/02/2019", 58515.0, 58516.0, True, False),
    ("2019-02-01", 58515.0, 58516.0, True, False),
    ("=2019-02-01", 58515.0, 58516.0, True, False),
    ("<2019-02-01", None, 58515.0, True, False),
    ("<=2019-02-01", None, 58516.0, True, False),
    (">2019-02-01", 58516.0, None, True, True),
    (">=01-02-2019", 58515.0, None, True, True),
    ("2019-02-01..2019-02-03", 58515.0, 58518.0, True, False),
    ("01-02-2019 .. 03-02-2019", 58515.0, 58518.0, True, False),
    ("2019-02-01..2019-02-01", 58515.0, 58516.0, True, False),
]


@pytest.mark.parametrize(("text", "low", "high", "low_incl", "high_incl"), DATES)
def test_dates_become_mjd_intervals_covering_whole_days(text, low, high, low_incl, high_incl):
    interval = syntax.parse_date("start_date", text).terms[0].test
    assert (interval.low, interval.high) == (low, high)
    if low is not None:
        assert interval.low_inclusive is low_incl
    if high is not None:
        assert interval.high_inclusive is high_incl


def test_date_negation_null_and_alternatives():
    terms = syntax.parse_date("start_date", "!(2019-02-01..2019-02-03)|null").terms
    assert terms == (
        Term(I(58515.0, 58518.0, high_inclusive=False), negated=True),
        Term(NullTest(True)),
    )
    assert syntax.parse_date("start_date", "!=2019-02-01").terms == (
        Term(I(58515.0, 58516.0, high_inclusive=False), negated=True),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2019-13-01", "'2019-13-01' is not a day of the calendar."),
        ("32-01-2019", "'32-01-2019' is not a day of the calendar."),
        ("29-02-2019", "'29-02-2019' is not a day of the calendar."),
        ("yesterday", "'yesterday' is not a date."),
        ("2019/02", "'2019/02' is not a date."),
        ("01-02-19", "'01-02-19' is not a date."),
        ("2019-02-03..2019-02-01", "the range starts"),
        ("2019-02-01T12:00", "is not a date."),
    ],
)
def test_bad_dates_are_rejected(text, message):
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_date("start_date", text, label="Observation date")
    text_of_error = str(caught.value).replace("whose start is after its end", "the range starts")
    assert text_of_error.startswith("Observation date: ")
    assert message in text_of_error
    assert "Accepted: DD-MM-YYYY or YYYY-MM-DD" in text_of_error


POSITIONS = [
    ("12:13:14.0 -00:01:02.1, 0.05", 183.308333, -0.017250, 0.05),
    ("12:13:14.0 -00:01:02.1, 20", 183.308333, -0.017250, 20),
    ("12:13:14.0 -00:01:02.1", 183.308333, -0.017250, 10 / 60),
    ("181.0192 -0.01928, 0.05", 181.0192, -0.01928, 0.05),
    ("181.0192 -0.01928, 30arcsec", 181.0192, -0.01928, 30 / 3600),
    ("181.0192 -0.01928, 30 arcsec", 181.0192, -0.01928, 30 / 3600),
    ('181.0192 -0.01928, 30"', 181.0192, -0.01928, 30 / 3600),
    ("181.0192 -0.01928, 30\u2033", 181.0192, -0.01928, 30 / 3600),
    ("181.0192 -0.01928, 2'", 181.0192, -0.01928, 2 / 60),
    ("181.0192 -0.01928, 2arcmin", 181.0192, -0.01928, 2 / 60),
    ("181.0192 -0.01928, 0.1deg", 181.0192, -0.01928, 0.1),
    ("181.0192 -0.01928", 181.0192, -0.01928, 10 / 60),
    ("181.0192,-0.01928", 181.0192, -0.01928, 10 / 60),
    ("181.0192, -0.01928, 1'", 181.0192, -0.01928, 1 / 60),
    ("181.0192d -0.01928d, 1'", 181.0192, -0.01928, 1 / 60),
    ("12h13m14.0s -00d01m02.1s, 1'", 183.308333, -0.017250, 1 / 60),
    ("12h13m14s +00d01m02s, 1'", 183.308333, 0.017222, 1 / 60),
    ("12 13 14.0 -00 01 02.1, 1'", 183.308333, -0.017250, 1 / 60),
    ("0 -90, 1", 0.0, -90.0, 1.0),
    ("359.9999 90, 180", 359.9999, 90.0, 180.0),
]


@pytest.mark.parametrize(("text", "ra", "dec", "radius"), POSITIONS)
def test_positions_in_sexagesimal_or_degrees_with_radius_units(text, ra, dec, radius):
    cone = syntax.parse_position("ra_dec", text)
    assert isinstance(cone, Cone)
    assert cone.ra == pytest.approx(ra, abs=1e-5)
    assert cone.dec == pytest.approx(dec, abs=1e-5)
    assert cone.radius == pytest.approx(radius)


def test_the_default_radius_is_ten_arcmin():
    assert syntax.DEFAULT_RADIUS_DEG == pytest.approx(10 / 60)


def test_position_ranges_give_a_box():
    box = syntax.parse_position("ra_dec", "181..185 >-0.1928")
    assert box == Box(
        syntax.NumericConstraint((Term(I(181, 185)),)),
        syntax.NumericConstraint((Term(I(low=-0.1928, low_inclusive=False)),)),
    )


def test_position_ranges_take_sexagesimal_ra_in_hours():
    box = syntax.parse_position("ra_dec", ">12:13:14.0 0..40")
    assert box.ra.terms[0].test.low == pytest.approx(183.308333, abs=1e-5)
    assert box.dec.terms[0].test == I(0, 40)


def test_a_star_leaves_one_coordinate_free():
    box = syntax.parse_position("ra_dec", "* -10..-5")
    assert box.ra is None
    assert box.dec.terms[0].test == I(-10, -5)


def test_several_positions_are_alternatives():
    position = syntax.parse_position("ra_dec", "10 10, 1 | 181..185 >-0.1928")
    assert isinstance(position, AnyPosition)
    assert position.alternatives[0] == Cone(10.0, 10.0, 1.0)
    assert isinstance(position.alternatives[1], Box)


def test_galactic_positions_are_degrees_in_the_galactic_frame():
    cone = syntax.parse_position("galactic", "359.94 -0.05, 30arcsec", frame="galactic")
    assert cone == Cone(359.94, -0.05, 30 / 3600, "galactic")
    box = syntax.parse_position("galactic", "359..360 -1..1", frame="galactic")
    assert box.frame == "galactic"


POSITIONS_REJECTED = [
    ("M83", "is not understood: it needs two coordinates before the comma."),
    ("400 10, 1", "is outside the sky (RA 0..360, Dec -90..90)."),
    ("10 -95, 1", "is outside the sky"),
    ("25:00:00 10:00:00", "is outside the sky"),
    ("10 10, -1", "radius '-1' is not a number with deg, arcmin or arcsec."),
    ("10 10, 5 parsec", "radius '5 parsec' is not a number"),
    ("10 10, 0", "it has a radius that is not above 0 and at most 180 degrees."),
    ("10 10, 181", "it has a radius that is not above 0"),
    ("12:61:00 10:00:00, 1", "it has minutes or seconds of 60 or more"),
    ("1 2 3, 1", "it needs two coordinates before the comma."),
    ("10 10, 1, 2, 3", "it has too many commas"),
    ("181..185", "ranges need two parts, longitude then latitude"),
    ("* *", "it constrains neither coordinate."),
    ("185..181 0..1", "it has a range whose start is after its end"),
    ("10 10, 1 |", "it has an empty alternative around '|'."),
    ("'; DROP TABLE queries_observation; --", "is not understood"),
]


@pytest.mark.parametrize(("text", "message"), POSITIONS_REJECTED)
def test_bad_positions_are_rejected(text, message):
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_position("ra_dec", text, label="RA Dec")
    assert str(caught.value).startswith("RA Dec: ")
    assert message in str(caught.value)
    assert "Accepted: 'RA Dec, radius' in sexagesimal" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "bands", "negated"),
    [
        ("3", {3}, False),
        ("3 6", {3, 6}, False),
        ("3|6", {3, 6}, False),
        ("3,6", {3, 6}, False),
        ("3, 6 |7", {3, 6, 7}, False),
        ("10", {10}, False),
        ("1", {1}, False),
        ("3..6", {3, 4, 5, 6}, False),
        ("!(3|6)", {3, 6}, True),
        ("!10", {10}, True),
        ("band 7", {7}, False),
        ("Band3", {3}, False),
    ],
)
def test_bands_are_whole_tokens(text, bands, negated):
    constraint = syntax.parse_bands("band_list", text)
    assert constraint.bands == frozenset(bands)
    assert constraint.negated is negated


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("11", "names no ALMA band ('11')."),
        ("0", "names no ALMA band ('0')."),
        ("three", "names no ALMA band ('three')."),
        ("6..3", "names no ALMA band ('6..3')."),
        ("9..11", "names no ALMA band ('9..11')."),
        ("²", "names no ALMA band ('²')."),
        ("\u0663", "names no ALMA band"),
        ("", "names no band."),
        ("!", "names no band."),
    ],
)
def test_bad_bands_are_rejected(text, message):
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_bands("band_list", text, label="Band")
    assert message in str(caught.value)
    assert "Accepted: ALMA band numbers 1 to 10" in str(caught.value)


def T(pattern, negated=False, case_sensitive=False, wildcards=True, anchored=False):
    return StringTerm(pattern, negated, case_sensitive, wildcards, anchored)


STRINGS_ACCEPTED = [
    ("M83", [T("M83")]),
    ("M83|NGC*", [T("M83"), T("NGC*")]),
    ("M83 | NGC*", [T("M83"), T("NGC*")]),
    ("!M83", [T("M83", negated=True)]),
    ("~M83", [T("M83")]),
    ("!~M83", [T("M83", negated=True)]),
    ("=M83", [T("M83", case_sensitive=True, anchored=True)]),
    ("==M8*", [T("M8*", case_sensitive=True, wildcards=False, anchored=True)]),
    ("!=M83", [T("M83", negated=True, case_sensitive=True, wildcards=False, anchored=True)]),
    ("!(*.CSV | *.SIM)", [T("*.CSV", negated=True), T("*.SIM", negated=True)]),
    ("2010.* | !2010.1.*", [T("2010.*"), T("2010.1.*", negated=True)]),
    ('GRB021004 | "R Scl"', [T("GRB021004"), T("R Scl")]),
    ('"a|b"', [T("a|b")]),
    ('"!not negated"', [T("!not negated")]),
    ("N?C 1068", [T("N?C 1068")]),
    ("*", [T("*")]),
    ("**", [T("*")]),
    ("?", [T("?")]),
    ("50%_off", [T("50%_off")]),
    ("Smith, Fred", [T("Smith, Fred")]),
    ("smile :)", [T("smile :)")]),
    ("O'Brien'); DROP TABLE ivoa.obscore; --", [T("O'Brien'); DROP TABLE ivoa.obscore; --")]),
    ("Sub-mm Galaxies (SMG)", [T("Sub-mm Galaxies (SMG)")]),
    ("ngc\u00a01068", [T("ngc 1068")]),
]


@pytest.mark.parametrize(("text", "terms"), STRINGS_ACCEPTED)
def test_strings_keep_wildcards_alternatives_negation_and_alma_operators(text, terms):
    assert list(syntax.parse_string("project_title", text).terms) == terms


def test_a_string_term_knows_whether_it_has_wildcards():
    assert T("a*b").has_wildcards
    assert T("a?b").has_wildcards
    assert not T("ab").has_wildcards
    assert not T("a*b", wildcards=False).has_wildcards


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a|", "it has an empty alternative around '|'."),
        ("!", "it has an operator without text."),
        ("==", "it has an operator without text."),
        ("!*", "it excludes everything ('!*')."),
        ("!(a|!b)", "it negates a negation."),
        ("(a|b)", "it groups alternatives without '!'"),
        ('"unclosed', "it has an unclosed quote."),
        ('R "Scl"', "it has a quote inside a word"),
        ("*a" * 21, "it has more than 20 '*' in one value."),
        ("x\x00y", "contains control characters."),
        ("x\ud800", "contains characters that are not text."),
        ("x" * 1001, "is too long (at most 1000 characters)."),
    ],
)
def test_bad_strings_are_rejected(text, message):
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_string("project_title", text, label="Project title")
    assert str(caught.value).startswith("Project title: ")
    assert message in str(caught.value)
    assert "Accepted: text (case-insensitive), * and ? wildcards" in str(caught.value)


def test_a_long_value_is_shortened_and_made_printable_in_the_message():
    with pytest.raises(QueryInputError) as caught:
        syntax.parse_numeric("frequency", "\x01" + "9" * 5000, label="Frequency")
    message = str(caught.value)
    assert len(message) < 400
    assert "\x01" not in message


STRANGE_INPUTS = [
    "",
    " ",
    "\u200b",
    "\u202e1..2",
    "😀",
    "é|ß|ﬃ",
    "1" * 10_000,
    "(" * 500 + ")" * 500,
    "!(" * 300 + "1" + ")" * 300,
    "|" * 999,
    "'; DROP TABLE queries_observation; --",
    "1' OR '1'='1",
    "1; SELECT pg_sleep(10)",
    "%_%_%\\",
    "*?" * 400,
    "..",
    "....",
    "<>",
    "!null|!null|null",
    "\x00",
    "\ud83d",
    "null..null",
    "12:13:14.0:15 -00:01:02.1, 0.05",
    "12h 13m -0d, 1''",
    '"',
    "\\",
]
PARSERS = [
    lambda t: syntax.parse_numeric("frequency", t),
    lambda t: syntax.parse_date("start_date", t),
    lambda t: syntax.parse_string("project_title", t),
    lambda t: syntax.parse_position("ra_dec", t),
    lambda t: syntax.parse_position("galactic", t, frame="galactic"),
    lambda t: syntax.parse_bands("band_list", t),
]


def _input_error(parser, text) -> QueryInputError | None:
    try:
        parser(text)
    except QueryInputError as error:
        return error
    return None


def _parse_or_input_error(parser, text):
    error = _input_error(parser, text)
    # The message itself can always be built, and it names the accepted syntax.
    assert error is None or (str(error) and error.accepted_syntax)


@pytest.mark.parametrize("text", STRANGE_INPUTS)
@pytest.mark.parametrize("parser", range(len(PARSERS)))
def test_no_input_raises_anything_but_a_query_input_error(parser, text):
    _parse_or_input_error(PARSERS[parser], text)


# ALMA's syntax in pieces, so generated text is near-miss syntax more often than noise.
SYNTAX_PIECES = [
    *"0123456789.:-+ ,|!()<>=*?\"'%_\\hdms°\u2032\u2033≤≥~",
    "null",
    "..",
    "arcsec",
    "deg",
    "band",
    "\u0661",
    "²",
    "\ud800",
    "é",
    "1e999",
]
syntax_like = st.lists(st.sampled_from(SYNTAX_PIECES), max_size=24).map("".join)


@settings(max_examples=600)
@given(text=syntax_like | st.text(max_size=40))
def test_generated_text_raises_nothing_but_query_input_errors(text):
    for parser in PARSERS:
        _parse_or_input_error(parser, text)


@settings(max_examples=300)
@given(
    low=st.floats(allow_nan=False, allow_infinity=False, width=32),
    high=st.floats(allow_nan=False, allow_infinity=False, width=32),
)
def test_a_generated_range_parses_to_its_bounds_or_names_the_field(low, high):
    text = f"{low!r}..{high!r}"
    error = _input_error(PARSERS[0], text)
    if error is None:
        interval = syntax.parse_numeric("frequency", text).terms[0].test
        assert (interval.low, interval.high) == (low, high)
    else:
        assert error.field == "frequency"
