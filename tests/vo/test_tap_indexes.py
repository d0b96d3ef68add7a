"""TAP's source-name constraints can use an index (queries/migrations/0003) on PostgreSQL.

The plan is read with sequential scans disabled, so the test says whether an index *can* serve
the translated SQL (the tiny test table would otherwise be scanned whatever the indexes); the
speed itself is measured in bench/bench_tap.py, never asserted here.
"""

from __future__ import annotations

import pytest
from django.db import connection

from vo import adql, catalogue

pytestmark = pytest.mark.django_db


def _plan(query: str) -> str:
    translation = adql.translate(query, catalogue.tables(), vendor=connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {translation.sql}", list(translation.params))
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no such indexes")
@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("target_name = 'M83'", "obs_target_name_pattern"),
        ("target_name LIKE 'NGC%'", "obs_target_name_pattern"),
        ("target_name LIKE '%1068%'", "obs_target_name_trgm"),
        ("target_name ILIKE '%ngc%'", "obs_target_name_trgm"),
    ],
)
def test_a_target_name_constraint_can_use_an_index(where, index):
    plan = _plan(f"SELECT obs_id FROM ivoa.obscore WHERE {where}")
    assert index in plan, plan
