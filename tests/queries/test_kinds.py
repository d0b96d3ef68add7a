"""Field kinds: each field's one object parses, filters the mirror and writes ADQL."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.db.models import Q

from queries import kinds
from queries.adql import to_adql
from queries.archive.loader import load_paths
from queries.errors import QueryInputError
from queries.fields import FIELDS, parse_form
from queries.filters import observation_filter
from queries.models import Observation
from tests.factories import UserFactory

SAMPLE = (
    Path(__file__).resolve().parents[2] / "queries" / "sample_archive" / "alma_obscore_rows.csv"
)
WHERE = "SELECT * FROM ivoa.obscore WHERE "
# Fields whose example needs the network (the resolver) are covered in test_resolver.py.
OFFLINE = [f for f in FIELDS if not isinstance(f.kind, kinds.Resolver)]


def search(**params) -> set[str]:
    q = observation_filter(parse_form(params))
    return set(Observation.objects.filter(q).values_list("obs_id", flat=True))


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _example(spec) -> str:
    if spec.choices:
        return spec.choices[0]
    return (spec.placeholder or spec.examples.split(",")[0]).strip() or "x"


@pytest.mark.django_db
@pytest.mark.parametrize("spec", OFFLINE, ids=lambda f: f.name)
def test_every_kind_parses_its_fields_example_filters_and_writes_adql(spec):
    node = spec.parse(_example(spec))
    assert isinstance(spec.kind.q(spec, node), Q)
    clause = spec.kind.adql(spec, node)
    assert clause is None or isinstance(clause, str)
    Observation.objects.filter(spec.kind.q(spec, node)).count()  # runs on the database


@pytest.mark.parametrize("spec", OFFLINE, ids=lambda f: f.name)
def test_every_kind_rejects_nonsense_naming_the_field_and_its_syntax(spec):
    with pytest.raises(QueryInputError) as caught:
        spec.parse("(" * 3 + "\x01")
    assert caught.value.field == spec.name
    assert spec.syntax in str(caught.value)


@pytest.mark.django_db
def test_a_pi_search_finds_a_project_whose_pi_is_named_only_in_obs_creator_name():
    """ALMA's form searches obs_creator_name ("case-insensitive partial match over the full
    PI name", refdata/schema/alma_obscore_columns.csv; astroquery maps pi_name to it). In the
    real rows of 2017.1.00079.S pi_name is empty, one row names Koda and 29 say 'ALMA'."""
    load_paths([SAMPLE])
    koda = {r["obs_id"] for r in sample_rows() if r["proposal_id"] == "2017.1.00079.S"}
    assert len(koda) == 30
    assert search(pi_name="Koda") == koda
    assert search(pi_name="koda, j*") == koda


@pytest.mark.django_db
def test_the_observatory_in_obs_creator_name_is_nobodys_name():
    """Newer ALMA rows say 'ALMA' in obs_creator_name: searching 'ALMA' (or any pattern that
    'ALMA' would match) must find only PIs whose names match, not every newer row."""
    load_paths([SAMPLE])
    rows = sample_rows()
    pis: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["obs_id"]):
        creator = row["obs_creator_name"] if row["obs_creator_name"].upper() != "ALMA" else ""
        pis.setdefault(row["proposal_id"], "")
        pis[row["proposal_id"]] = pis[row["proposal_id"]] or row["pi_name"] or creator
    with_a = {r["obs_id"] for r in rows if "A" in pis[r["proposal_id"]].upper()}
    assert search(pi_name="ALMA") == set()
    assert search(pi_name="*a*") == with_a
    assert len(with_a) < len(rows)


def test_the_archive_is_never_asked_for_the_observatory_as_a_pi():
    creator = "(LOWER(obs_creator_name) LIKE 'a%' AND UPPER(obs_creator_name) <> 'ALMA')"
    assert to_adql(parse_form({"pi_name": "A*"})) == WHERE + (
        f"((LOWER(pi_name) LIKE 'a%' OR {creator}))"
    )
    # Excluding a PI keeps the rows that name no one (the mirror keeps them too).
    assert to_adql(parse_form({"pi_name": "!A*"})) == WHERE + (
        f"(NOT ((LOWER(pi_name) LIKE 'a%' OR {creator})))"
    )


def test_a_text_field_searches_the_project_table_only_when_every_column_is_copied_there():
    title, bibcode = (next(f for f in FIELDS if f.name == n) for n in ("project_title", "bibcode"))
    by_project = title.kind.q(title, title.parse("gas"))
    by_row = bibcode.kind.q(bibcode, bibcode.parse("2019*"))
    assert [key for key, _ in by_project.children] == ["project_id__in"]
    assert "project_id__in" not in _lookups(by_row)
    assert "bib_reference__istartswith" in _lookups(by_row)


def _lookups(q: Q) -> set[str]:
    return {
        key
        for child in q.children
        for key in (_lookups(child) if isinstance(child, Q) else {child[0]})
    }


@pytest.mark.django_db
def test_the_form_picks_each_fields_widget_and_unit_from_its_kind(client):
    client.force_login(UserFactory(username="form-reader"))
    page = client.get("/aq/").content.decode()
    for spec in FIELDS:
        if isinstance(spec.kind, kinds.YesNo):
            assert f'<select name="{spec.name}"' in page
        elif isinstance(spec.kind, kinds.Choice):
            assert f'<datalist id="list_{spec.name}">' in page
        else:
            assert f'<input type="text" name="{spec.name}"' in page
    assert 'Field of view <span class="muted">[arcsec]</span>' in page
