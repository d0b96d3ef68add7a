"""A large search's count is remembered only while the mirror is unchanged (queries/counts.py).

Turning pages or re-running a search does not count it again; any write to a table a search
reads (through the ORM or raw SQL, committed by anyone) makes the next page count again; a
count taken while another transaction has logged a change and not committed it is not
remembered; and nothing is remembered inside a transaction block. These tests commit (the
triggers and the lock only mean something between transactions), so they run on PostgreSQL,
the engine the count cache exists for.
"""

from __future__ import annotations

import importlib
import re

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from redis.exceptions import ConnectionError as RedisConnectionError

from queries import counts, selectors
from queries.models import Observation
from tests.factories import ObservationFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's triggers and locks"),
]

IN_RANGE = {"frequency": "230..250"}
migration = importlib.import_module("queries.migrations.0011_count_generation")


@pytest.fixture
def large(monkeypatch, settings):
    """Eight matches count as a large result here (the bench's has 86,000), five to a page."""
    monkeypatch.setattr(selectors, "COUNT_FIRST_LIMIT", 3)
    settings.QUERIES_PAGE_SIZE = 5
    for n in range(8):
        ObservationFactory(frequency=231.0 + n)
    ObservationFactory(frequency=100.0)


@pytest.fixture
def member(client):
    client.force_login(UserFactory(username="counter"))


def _page(client, **params) -> tuple[int, bool]:
    """(the total the page shows, whether a statement counted the matches)."""
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/aq/", {**IN_RANGE, **params})
    assert page.status_code == 200
    total = int(re.search(r'id="result-count">(\d+)', page.text).group(1))
    counted = any("COUNT(*) AS total" in q["sql"] for q in captured.captured_queries)
    return total, counted


def _other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )


def test_a_large_result_is_counted_once_then_paged_without_counting(client, member, large):
    assert _page(client) == (8, True)
    assert _page(client) == (8, False)
    assert _page(client, page="2") == (8, False)
    assert _page(client, sort="-frequency") == (8, False)


def test_a_committed_change_is_counted_at_once(client, member, large):
    assert _page(client) == (8, True)
    ObservationFactory(frequency=240.0)
    assert _page(client) == (9, True)
    assert _page(client) == (9, False)
    Observation.objects.filter(frequency=240.0).update(frequency=10.0)
    assert _page(client) == (8, True)


def test_a_raw_sql_write_to_another_table_a_search_reads_moves_the_generation(
    client, member, large
):
    assert _page(client) == (8, True)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE queries_project SET title = title WHERE false")
    assert _page(client) == (8, True)


def test_a_count_taken_while_a_writer_has_not_committed_is_not_remembered(client, member, large):
    writer = _other_connection()
    try:
        with writer.cursor() as cursor:  # logs a change and holds the lock until commit
            cursor.execute("UPDATE queries_observation SET frequency = 245.0 WHERE frequency = 100")
        assert _page(client) == (8, True)
        assert _page(client) == (8, True)  # not remembered: the writer may commit any moment
        writer.commit()
        assert _page(client) == (9, True)
        assert _page(client) == (9, False)
    finally:
        writer.close()


def test_a_bulk_load_holding_the_table_is_never_deadlocked_by_a_count(large):
    """A load takes the observations exclusively (it drops their indexes) before its first
    logged change. The count's lock must be gone by then: a count waiting for the table while
    holding the lock the load's trigger wants would deadlock the two."""
    where = ('"queries_observation"."frequency" >= %s', (230.0,))
    writer = _other_connection()
    try:
        with counts.counting(where) as may_remember:
            assert may_remember
            with writer.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
                cursor.execute("LOCK TABLE queries_observation IN ACCESS EXCLUSIVE MODE")
                cursor.execute("UPDATE queries_observation SET frequency = 240 WHERE false")
            writer.commit()
            with connection.cursor() as cursor:  # on the snapshot taken under the lock
                sql = f'SELECT COUNT(*) FROM "queries_observation" WHERE {where[0]}'
                cursor.execute(sql, where[1])
                assert cursor.fetchone() == (8,)
    finally:
        writer.close()


def test_nothing_is_remembered_inside_a_transaction_block(client, member, large):
    with transaction.atomic():
        assert _page(client) == (8, True)
        assert _page(client) == (8, True)


def test_no_count_is_remembered_when_the_setting_is_zero(client, member, large, settings):
    settings.QUERIES_COUNT_CACHE_SECONDS = 0
    assert _page(client) == (8, True)
    assert _page(client) == (8, True)


def test_with_the_cache_down_pages_still_count_and_answer(client, member, large, monkeypatch):
    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(counts.cache, "get", down)
    monkeypatch.setattr(counts.cache, "set", down)
    assert _page(client) == (8, True)
    assert _page(client) == (8, True)


def test_a_where_reading_a_table_without_the_trigger_is_never_remembered():
    assert counts.usable(('"queries_observation"."frequency" >= %s', (1,)))
    assert not counts.usable(
        ('"queries_observation"."id" IN (SELECT U0."id" FROM "queries_search" U0)', ())
    )


def test_the_triggers_and_the_lock_are_the_ones_the_module_names():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'mirror_changed' AND NOT t.tgisinternal"
        )
        triggered = {name for (name,) in cursor.fetchall()}
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'queries_mirror_changed'")
        body = cursor.fetchone()[0]
    assert triggered == counts.COUNTED_TABLES == set(migration.TABLES)
    assert f"pg_advisory_xact_lock_shared({counts.MIRROR_LOCK})" in body


def test_pruning_keeps_each_tables_newest_entry_so_generation_and_stamp_stay():
    ObservationFactory(frequency=1.0)
    ObservationFactory(frequency=2.0)
    observations = counts.changed_sql("queries_observation")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts.GENERATION_SQL}, {observations}")
        before = cursor.fetchone()
        assert counts.prune() >= 1
        cursor.execute(f"SELECT {counts.GENERATION_SQL}, {observations}")
        assert cursor.fetchone() == before
        cursor.execute(f"SELECT COUNT(*) = COUNT(DISTINCT relname) FROM {counts.LOG_TABLE}")
        assert cursor.fetchone() == (True,)
