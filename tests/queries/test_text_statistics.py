"""The projects' trigram indexes keep a finer statistics target (queries migration 0013), so the
planner's estimate of a text search's matches picks the right plan on a large mirror."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics"),
]

migration = importlib.import_module("queries.migrations.0013_project_text_statistics")


def statistics_target(index: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
            [index],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("index", migration.INDEXES)
def test_each_project_text_index_samples_a_thousand_values(index):
    assert statistics_target(index) == migration.TARGET
