"""Reading an uploaded target list: every accepted line form, every refused one with the line
and the accepted syntax, and whole files refused (empty, binary, too many rows)."""

from __future__ import annotations

import pytest

from queries.syntax import DEFAULT_RADIUS_DEG
from targets.errors import TargetFileError
from targets.parsing import ROW_SYNTAX, parse_upload

ARCSEC = 1 / 3600


def one(line: str):
    (row,) = parse_upload(line.encode(), max_rows=10)
    return row


@pytest.mark.parametrize(
    ("line", "name", "ra", "dec", "radius"),
    [
        ("NGC 1068", "NGC 1068", None, None, DEFAULT_RADIUS_DEG),
        ("NGC 1068, 30arcsec", "NGC 1068", None, None, 30 * ARCSEC),
        ("3C 273, 2'", "3C 273", None, None, 2 / 60),
        ('"R CrA IRS 7B", 0.1deg', "R CrA IRS 7B", None, None, 0.1),
        ("Smith, Jones field", "Smith, Jones field", None, None, DEFAULT_RADIUS_DEG),
        ("83.8221 -5.3911", "", 83.8221, -5.3911, DEFAULT_RADIUS_DEG),
        ("83.8221 -5.3911, 30arcsec", "", 83.8221, -5.3911, 30 * ARCSEC),
        ("83.8221, -5.3911, 0.05", "", 83.8221, -5.3911, 0.05),
        ("05:35:17.3 -05:23:28, 2'", "", 83.82208333, -5.39111111, 2 / 60),
        ("05h35m17.3s -05d23m28s", "", 83.82208333, -5.39111111, DEFAULT_RADIUS_DEG),
        ('05 35 17.3 -05 23 28, 10"', "", 83.82208333, -5.39111111, 10 * ARCSEC),
    ],
)
def test_a_line_is_a_name_or_a_position_with_an_optional_radius(line, name, ra, dec, radius):
    row = one(line)
    assert not row.reason
    assert row.name == name
    assert row.radius == pytest.approx(radius)
    if ra is None:
        assert row.ra is None and row.dec is None
    else:
        assert (row.ra, row.dec) == (pytest.approx(ra), pytest.approx(dec))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("83.8221 -95.3", "outside the sky"),
        ("83.8221 -5.3911, 30 parsecs", "radius '30 parsecs'"),
        ("83.8221 -5.3911, 0", "not above 0"),
        ("05:75:17.3 -05:23:28", "minutes or seconds of 60"),
        ("83.8221", "two coordinates"),
        ("181..185 >-0.1928", "not one cone"),
        ("1 2 | 3 4", "not one cone"),
        ("x" * 301, "longer than 300"),
    ],
)
def test_a_malformed_line_is_kept_with_its_line_number_reason_and_the_syntax(line, why):
    rows = parse_upload(f"NGC 1068\n\n{line}\n".encode(), max_rows=10)
    assert [r.number for r in rows] == [1, 3]
    bad = rows[1]
    assert why in bad.reason
    assert bad.reason.startswith("Line 3:")
    assert bad.name == "" and bad.ra is None
    if len(line) < 300:
        assert ROW_SYNTAX in bad.reason


def test_a_csv_header_names_the_columns_and_a_name_labels_its_coordinates():
    rows = parse_upload(
        b"name,ra,dec,radius\n"
        b"Orion KL,83.8092,-5.3751,30arcsec\n"
        b"M83,,,\n"
        b",204.25,-29.87,\n"
        b",abc,1,\n"
        b"x,1,2,3,4\n",
        max_rows=10,
    )
    orion, m83, bare, bad, extra = rows
    assert (orion.label, orion.name, orion.ra, orion.radius) == (
        "Orion KL",
        "",
        83.8092,
        pytest.approx(30 * ARCSEC),
    )
    assert (m83.name, m83.radius) == ("M83", DEFAULT_RADIUS_DEG)
    assert (bare.ra, bare.dec) == (204.25, -29.87)
    assert "Line 5:" in bad.reason and "'abc'" in bad.reason
    assert "5 cells for 4 columns" in extra.reason


def test_without_a_header_the_first_line_is_a_target():
    rows = parse_upload(b"# my targets\nM83\nNGC 1068\n", max_rows=10)
    assert [(r.number, r.name) for r in rows] == [(2, "M83"), (3, "NGC 1068")]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"  \n\n ", "empty"),
        (b"# only a comment\n", "no target"),
        (b"name,ra,dec\n", "header but no target"),
        (b"PK\x03\x04\x00\x00binary", "not a text file"),
        (b"\xff\xfe\x81junk", "not UTF-8"),
        (b"M83\x07\n", "control characters"),
    ],
)
def test_a_file_that_is_not_a_target_list_is_refused_whole(data, why):
    with pytest.raises(TargetFileError, match=why):
        parse_upload(data, max_rows=10)


def test_more_rows_than_the_setting_allows_are_refused_with_the_limit():
    data = "\n".join(f"{i}.5 -5" for i in range(11)).encode()
    with pytest.raises(TargetFileError, match="11 targets; a list holds at most 10"):
        parse_upload(data, max_rows=10)
    assert len(parse_upload(data, max_rows=11)) == 11
