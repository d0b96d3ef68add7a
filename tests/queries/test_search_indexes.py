"""The form's project-code and source-name searches can use an index on PostgreSQL, with the
observation table's index set as migration 0014 left it (fewer indexes for bulk loads to
build, none a search needs).

As in tests/vo/test_tap_indexes.py, the plan is read with sequential scans disabled, so the
test says whether an index *can* serve the search's SQL (the tiny test table would otherwise
be scanned whatever the indexes); speed is measured in bench/, never asserted here.
"""

from __future__ import annotations

import pytest
from django.db import connection

from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import Observation

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no such indexes"),
]


def _plan(field: str, text: str) -> str:
    rows = Observation.objects.filter(observation_filter(parse_form({field: text})))
    sql, params = rows.values("obs_id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("field", "text", "indexes"),
    [
        # A whole code, or several: ``=``/``IN``, which obs_project_mous (the code leads) and
        # the pattern index (its operator class has ``=`` too) both serve.
        ("project_code", "2019.1.00001.S", ("obs_project_mous", "obs_proposal_pattern")),
        (
            "project_code",
            "2019.1.00001.S | 2021.1.00002.S",
            ("obs_project_mous", "obs_proposal_pattern"),
        ),
        # A code pattern is LIKE 'prefix%', case-sensitive: only the pattern index serves it
        # on a database whose collation is not "C".
        ("project_code", "2019.1.*", ("obs_proposal_pattern",)),
        # A source name compares as UPPER(target_name_key), never as the plain key.
        ("source_name_alma", "NGC_1068", ("obs_target_key_upper",)),
    ],
)
def test_a_project_code_or_source_name_search_can_use_an_index(field, text, indexes):
    plan = _plan(field, text)
    # An index the condition is looked up in, not one merely read through with a filter.
    assert "Index Cond" in plan, plan
    assert any(f"on {index} " in plan or f"using {index} " in plan for index in indexes), plan


def test_the_indexes_no_search_used_are_gone():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s",
            [Observation._meta.db_table],
        )
        definitions = [definition for (definition,) in cursor.fetchall()]
    plain = [d for d in definitions if d.endswith("(target_name_key)") or "(proposal_id)" in d]
    assert plain == [], plain
