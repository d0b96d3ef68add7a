"""The form catalogue: ALMA's parameter names, every field parsed, every error reported."""

import pytest

from queries.errors import QueryInputErrors
from queries.fields import BY_NAME, FIELDS, GROUPS, parse_form

ALMA_NAMES = """source_name_resolver source_name_alma ra_dec galactic spatial_resolution
spatial_scale_max fov frequency bandwidth spectral_resolution band_list start_date
integration_time polarisation_type line_sensitivity continuum_sensitivity water_vapour
project_code project_title pi_name proposal_authors project_abstract science_keyword
scientific_category bibcode pub_title first_author publication_year public_data
science_observation""".split()


def test_every_alma_parameter_name_is_a_field():
    assert set(ALMA_NAMES) <= set(BY_NAME)


def test_fields_are_grouped_as_alma_groups_them():
    assert {f.group for f in FIELDS} == set(GROUPS)


def test_choice_lists_hold_the_real_values():
    assert "Galaxy evolution" in BY_NAME["scientific_category"].choices
    assert "Astrochemistry" in BY_NAME["science_keyword"].choices


def test_all_wrong_fields_are_reported_at_once():
    with pytest.raises(QueryInputErrors) as caught:
        parse_form(
            {
                "frequency": "84..",
                "band_list": "12",
                "project_code": "2017.1.00079.S",
                "public_data": "maybe",
                "array": "9m",
            }
        )
    assert set(caught.value.errors) == {"frequency", "band_list", "public_data", "array"}
    assert "Frequency: '84..'" in str(caught.value.errors["frequency"])


def test_empty_fields_are_ignored():
    assert not parse_form({"frequency": "  ", "band_list": ""})


@pytest.mark.django_db
def test_the_resolver_offline_says_so_and_suggests_the_alma_name(settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    with pytest.raises(QueryInputErrors) as caught:
        parse_form({"source_name_resolver": "NGC 1068"})
    message = str(caught.value.errors["source_name_resolver"])
    assert "could not be resolved" in message
    assert "Source name (ALMA)" in message
