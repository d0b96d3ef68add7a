"""The line finder's catalogue: lines found by the names people write, every rest frequency
stated with its catalogue, and the redshift and velocity arithmetic."""

from __future__ import annotations

import pytest

from queries.lines import catalogue, find, observed_ghz, redshift_of_velocity

REQUIRED = (
    "CO(1-0) CO(2-1) CO(3-2) CO(4-3) CO(5-4) CO(6-5) CO(7-6) 13CO(2-1) C18O(2-1) HCN(1-0) "
    "HCO+(1-0) HNC(1-0) CS(2-1) SiO(5-4) N2H+(1-0) CN(1-0) H2CO(3-2) CH3OH(5-4) [CI](1-0) "
    "[CII] H2O(183)"
).split()


@pytest.mark.parametrize("name", REQUIRED)
def test_the_lines_people_search_for_are_in_the_catalogue_with_their_source(name):
    line = find(name)
    assert line is not None and line.rest_ghz > 0
    assert line.catalogue.startswith(("CDMS", "JPL"))


def test_names_match_without_case_spaces_or_brackets():
    assert find("co 3-2") is find("CO(3-2)") is find(" Co (3-2) ")
    assert find("hco+(4-3)").rest_ghz == pytest.approx(356.734223)
    assert find("CO(9-8)") is None


def test_names_are_unique():
    names = [line.name.lower() for line in catalogue()]
    assert len(names) == len(set(names))


def test_a_redshift_divides_the_rest_frequency():
    assert observed_ghz(345.7959899, redshift=0.00379) == pytest.approx(344.4903, abs=1e-4)
    assert observed_ghz(1900.5369, redshift=4.5) == pytest.approx(345.5522, abs=1e-4)


def test_a_velocity_is_cz():
    assert redshift_of_velocity(1136.2) == pytest.approx(0.00379, abs=1e-5)
