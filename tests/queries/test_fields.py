"""The form catalogue: ALMA's parameter names, units, groups, choices; every error at once."""

from pathlib import Path

import pytest

from queries import syntax
from queries.errors import QueryInputErrors
from queries.fields import BY_NAME, CATALOGUE, FIELDS, parse_form, query_params

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "refdata" / "schema"
ALMA_NAMES = """source_name_resolver source_name_alma ra_dec galactic spatial_resolution
spatial_scale_max fov frequency bandwidth spectral_resolution band_list start_date
integration_time polarisation_type line_sensitivity continuum_sensitivity water_vapour
project_code project_title pi_name proposal_authors project_abstract science_keyword
scientific_category bibcode pub_title first_author publication_year public_data
science_observation""".split()


# The portal's own fields beyond ALMA's form: its extra filters, the line finder, target lists.
PORTAL_NAMES = {"mosaic", "array", "published", "line", "redshift", "target_list"}


def test_every_alma_parameter_name_is_a_field_and_nothing_else_is_missing():
    assert set(ALMA_NAMES) | PORTAL_NAMES == set(BY_NAME)


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("source_name_resolver", "Position"),
        ("ra_dec", "Position"),
        ("fov", "Position"),
        ("frequency", "Energy"),
        ("band_list", "Energy"),
        ("start_date", "Time"),
        ("integration_time", "Time"),
        ("polarisation_type", "Polarisation"),
        ("water_vapour", "Observation"),
        ("line_sensitivity", "Observation"),
        ("project_code", "Project"),
        ("science_keyword", "Project"),
        ("bibcode", "Publication"),
        ("publication_year", "Publication"),
        ("public_data", "Options"),
        ("science_observation", "Options"),
    ],
)
def test_fields_are_grouped_as_alma_groups_them(name, group):
    assert BY_NAME[name].group == group
    assert {f.group for f in FIELDS} == set(CATALOGUE)


@pytest.mark.parametrize(
    ("name", "unit", "column", "typed", "stored"),
    [
        ("fov", "arcsec", "s_fov", 3600.0, 1.0),  # typed in arcsec, stored in degrees
        ("bandwidth", "GHz", "bandwidth", 2.0, 2e9),  # GHz on the form, Hz in the column
        ("spectral_resolution", "kHz", "spectral_resolution", 70.0, 70e3),  # kHz -> Hz
        ("frequency", "GHz", "frequency", 100.0, 100.0),
        ("integration_time", "s", "t_exptime", 60.0, 60.0),
        ("spatial_resolution", "arcsec", "spatial_resolution", 0.5, 0.5),
        ("spatial_scale_max", "arcsec", "spatial_scale_max", 10.0, 10.0),
        ("water_vapour", "mm", "pwv", 1.0, 1.0),
        ("line_sensitivity", "mJy/beam", "sensitivity_10kms", 1.0, 1.0),
        ("continuum_sensitivity", "mJy/beam", "cont_sensitivity_bandwidth", 1.0, 1.0),
    ],
)
def test_units_typed_on_the_form_become_the_columns_units(name, unit, column, typed, stored):
    spec = BY_NAME[name]
    assert (spec.unit, spec.columns) == (unit, (column,))
    parsed = parse_form({name: f"{typed}"}).constraints[name]
    assert parsed.terms[0].test.low == pytest.approx(stored)


def test_water_vapour_reads_pwv_not_astroquerys_misspelled_column():
    assert BY_NAME["water_vapour"].columns == ("pwv",)


def test_pi_name_searches_both_pi_columns():
    assert BY_NAME["pi_name"].columns == ("pi_name", "obs_creator_name")


@pytest.mark.parametrize("spec", FIELDS, ids=lambda f: f.name)
def test_every_field_has_a_label_help_and_the_accepted_syntax(spec):
    assert spec.label
    assert spec.help
    assert spec.syntax


def test_the_tooltip_of_a_numeric_field_names_its_unit_and_examples():
    assert BY_NAME["frequency"].syntax.startswith("numbers in GHz, e.g. >100, <300, 100..300")
    assert syntax.NUMERIC_SYNTAX in BY_NAME["frequency"].syntax


def _rst_values(name: str) -> set[str]:
    lines = (SCHEMA / name).read_text(encoding="utf-8").splitlines()
    values = [line.split("* - ", 1)[1].strip() for line in lines if "* - " in line]
    return set(values[1:])  # the first row is the table's header


def test_choice_lists_hold_the_real_values():
    assert set(BY_NAME["scientific_category"].choices) == _rst_values(
        "alminer_scientific_categories.rst"
    )
    assert set(BY_NAME["science_keyword"].choices) == _rst_values("alminer_science_keywords.rst")


def test_every_real_choice_parses_as_a_search_value():
    for name in ("science_keyword", "scientific_category"):
        for choice in BY_NAME[name].choices:
            assert parse_form({name: choice}).constraints[name].terms[0].pattern == choice


def test_all_wrong_fields_are_reported_at_once():
    with pytest.raises(QueryInputErrors) as caught:
        parse_form(
            {
                "frequency": "84..",
                "band_list": "12",
                "project_code": "2017.1.00079.S",
                "public_data": "maybe",
                "array": "9m",
                "ra_dec": "M83",
                "start_date": "31-02-2019",
            }
        )
    errors = caught.value.errors
    assert set(errors) == {"frequency", "band_list", "public_data", "array", "ra_dec", "start_date"}
    assert str(errors["frequency"]).startswith("Frequency: '84..' is not understood")
    assert "Accepted: numbers in GHz" in str(errors["frequency"])
    assert str(errors["public_data"]) == (
        "Public data only: 'maybe' is neither yes nor no. Accepted: yes or no"
    )
    assert "is not one of 12m, 7m, TP." in str(errors["array"])
    assert errors["start_date"].field == "start_date"


def test_empty_and_unknown_parameters_are_ignored():
    assert not parse_form({"frequency": "  ", "band_list": "", "result_view": "raw", "x": "1"})


def test_astroquerys_spellings_are_folded_into_almas_names():
    params = query_params({"science_observations": "yes", "frequency": " 84..116 "})
    assert params == {"frequency": "84..116", "science_observation": "yes"}
    assert parse_form({"science_observations": "yes"}).constraints == {"science_observation": True}


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("public_data", "yes", True),
        ("public_data", "No", False),
        ("mosaic", "true", True),
        ("published", "0", False),
        ("array", "7m|TP", frozenset({"7m", "tp"})),
        ("array", "12m, 7m", frozenset({"12m", "7m"})),
        ("polarisation_type", "Dual", frozenset({"dual"})),
    ],
)
def test_yes_no_and_choice_fields(name, text, value):
    assert parse_form({name: text}).constraints[name] == value


@pytest.mark.django_db
def test_the_resolver_offline_says_so_and_suggests_the_alma_name(settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    with pytest.raises(QueryInputErrors) as caught:
        parse_form({"source_name_resolver": "NGC 1068"})
    message = str(caught.value.errors["source_name_resolver"])
    assert "could not be resolved" in message
    assert "Source name (ALMA)" in message
