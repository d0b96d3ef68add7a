"""The ADQL sent to ALMA's TAP service: right operators, escaped literals, no astroquery bugs."""

from queries.adql import astroquery_snippet, to_adql
from queries.fields import parse_form


def adql(**params) -> str:
    return to_adql(parse_form(params))


def test_cone_becomes_intersects_circle():
    assert adql(ra_dec="204.25 -29.87, 0.1") == (
        "SELECT * FROM ivoa.obscore WHERE "
        "INTERSECTS(CIRCLE('ICRS',204.25,-29.87,0.1), s_region) = 1"
    )


def test_strict_less_than_stays_strict():
    assert "(spatial_resolution < 0.5)" in adql(spatial_resolution="<0.5")


def test_band_matches_whole_tokens():
    text = adql(band_list="1")
    assert "band_list = '1'" in text
    assert "band_list LIKE '% 1 %'" in text
    assert "'%1%'" not in text


def test_single_character_wildcard_alone_is_kept():
    assert "LOWER(proposal_id) LIKE '2017.1.0007_.s'" in adql(project_code="2017.1.0007?.S")


def test_quotes_in_user_text_are_escaped():
    text = adql(project_title="O'Brien'); DROP TABLE ivoa.obscore; --")
    assert "'%o''brien''); drop table ivoa.obscore; --%'" in text
    assert text.count("'") % 2 == 0


def test_numbers_come_from_parsed_floats_not_user_text():
    assert "frequency >= 84.0 AND frequency <= 116.0" in adql(frequency="84..116")


def test_units_are_the_archives():
    assert "bandwidth > 2000000000.0" in adql(bandwidth=">2")


def test_pi_name_searches_both_columns_and_public_data():
    text = adql(pi_name="Ueda*", public_data="yes", science_observation="yes")
    assert "LOWER(pi_name) LIKE 'ueda%' OR LOWER(obs_creator_name) LIKE 'ueda%'" in text
    assert "data_rights = 'Public'" in text
    assert "science_observation = 'T'" in text


def test_the_astroquery_snippet_runs_the_same_adql():
    query = adql(project_code="2017.1.00079.S")
    snippet = astroquery_snippet(query)
    assert "from astroquery.alma import Alma" in snippet
    assert "query_tap(" in snippet
    compile(snippet, "snippet", "exec")
