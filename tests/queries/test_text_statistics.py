"""The projects' trigram indexes keep PostgreSQL's default statistics target (queries migration
0017 undoes 0013's 1,000): a text search is compiled with its matching projects' ids
(``queries.search_where``), so no plan depends on the text pattern's estimate any more, and a
finer target only made every text search slower to plan."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics"),
]

migration = importlib.import_module("queries.migrations.0017_project_text_default_statistics")


def statistics_target(index: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
            [index],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("index", migration.INDEXES)
def test_each_project_text_index_has_the_default_statistics_target(index):
    assert statistics_target(index) == -1
