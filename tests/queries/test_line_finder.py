"""The line finder on the sample archive: exactly the rows whose own spectral windows cover the
line at the redshift asked, judged by an independent reading of their frequency_support; the
windows table PostgreSQL builds equals the Python rule; bad input is refused by field."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from queries.errors import QueryInputErrors
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.lines import find
from queries.models import Observation, SpectralWindow
from queries.spectral import row_windows

pytestmark = pytest.mark.django_db

C_M_S = 299792458.0
BRACKET = re.compile(r"\[([\d.]+)\.\.([\d.]+)GHz,")


def covering(observed_ghz: float) -> set[str]:
    """Independently of queries.spectral: each row's bracketed ranges that lie inside its own
    em range (all of them when it has none; the em range when none does), covering the line."""
    found = set()
    for row in Observation.objects.values("obs_id", "frequency_support", "em_min", "em_max"):
        ranges = [(float(a), float(b)) for a, b in BRACKET.findall(row["frequency_support"])]
        if row["em_min"] and row["em_max"]:
            lo, hi = C_M_S / row["em_max"] / 1e9, C_M_S / row["em_min"] / 1e9
            own = [(a, b) for a, b in ranges if a >= lo - 0.02 and b <= hi + 0.02]
            ranges = own or [(lo, hi)]
        if any(a <= observed_ghz <= b for a, b in ranges):
            found.add(row["obs_id"])
    return found


def finder(**params: str) -> set[str]:
    q = observation_filter(parse_form(params))
    return set(Observation.objects.filter(q).values_list("obs_id", flat=True))


@pytest.mark.parametrize(
    ("line", "redshift"),
    [("CO(1-0)", "0"), ("13CO(1-0)", "0"), ("CO(2-1)", "0.00379"), ("HCO+(4-3)", "1136 km/s")],
)
def test_the_finder_returns_exactly_the_rows_whose_windows_cover_the_line(sample, line, redshift):
    z = 1136 / 299792.458 if "km/s" in redshift else float(redshift)
    expected = covering(find(line).rest_ghz / (1 + z))

    assert expected, "the sample must hold rows covering the line for this case to say anything"
    assert finder(line=line, redshift=redshift) == expected


def test_a_line_some_rows_cover_is_found_and_a_gap_between_windows_is_not(sample):
    rows = finder(line="113.5")  # inside many band 3 tunings
    assert rows
    assert finder(line="100.05") == covering(100.05)


def test_postgresql_builds_the_windows_the_python_rule_reads(sample):
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 6)

    built = Counter(
        (obs_id, round(lo, 6), round(hi, 6), rounded(channel))
        for obs_id, lo, hi, channel in SpectralWindow.objects.values_list(
            "observation__obs_id", "lo_ghz", "hi_ghz", "channel_hz"
        )
    )
    expected = Counter(
        (row.obs_id, round(w.lo_ghz, 6), round(w.hi_ghz, 6), rounded(w.channel_hz))
        for row in Observation.objects.all()
        for w in row_windows(row.frequency_support, row.em_min, row.em_max, row.spectral_resolution)
    )
    # Every window once, channel widths included (the rows' own and the em-range fallbacks).
    assert built == expected and built


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"line": "CO(9-8)"}, "line", "neither a line of the catalogue nor a rest frequency"),
        ({"line": "CO(3-2)", "redshift": "fast"}, "redshift", "is not a number"),
        ({"line": "CO(3-2)", "redshift": "25"}, "redshift", "out of range"),
        ({"redshift": "0.1"}, "redshift", "give the line too"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_its_syntax(params, field, says):
    with pytest.raises(QueryInputErrors) as caught:
        parse_form(params)
    message = str(caught.value.errors[field])
    label = "Line" if field == "line" else "Redshift or velocity"
    assert message.startswith(label) and says in message and "Accepted:" in message


def test_the_adql_asks_for_rows_whose_own_window_covers_the_line():
    from queries.adql import to_adql

    adql = to_adql(parse_form({"line": "CO(3-2)", "redshift": "0"}))
    wavelength = C_M_S / 345.7959899e9
    assert f"em_min <= {wavelength:.6g}"[:16] in adql
