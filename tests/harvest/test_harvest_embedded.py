"""Harvesting in embedded mode (``make run``: SQLite, no services): the same command fills the
mirror from ALMA's TAP (the local replay of real rows), a second run changes nothing, a row
changed upstream is the only change of the next run, and a full sweep notices a removed row.
Run as an operator runs it, in its own process with every service variable removed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.portal_process import SERVICE_VARS, manage_in


@pytest.fixture
def embedded(tmp_path):
    """``manage.py`` in a fresh embedded portal; returns (manage, path of its SQLite file)."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(DATA_DIR=str(tmp_path), DEBUG="1", HARVEST_PAGE_ROWS="100")

    manage = manage_in(env)

    manage("migrate", "--no-input", "-v", "0")
    return manage, tmp_path / "archiveportal.sqlite3"


def runs(database: Path) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT mode, phase, rows_seen, new_count, changed_count, removed_count "
            "FROM harvest_harvestrun ORDER BY created_at"
        ).fetchall()


def scalar(database: Path, sql: str, *params) -> object:
    with sqlite3.connect(database) as db:
        return db.execute(sql, params).fetchone()[0]


def test_embedded_mode_harvests_alma_then_only_what_changed(embedded, alma_replay):
    manage, database = embedded

    manage("harvest_archive", "--archive-url", alma_replay.url)
    manage("harvest_archive", "--archive-url", alma_replay.url)
    changed = alma_replay.obscore[5]
    changed["target_name"] = "Renamed upstream"
    changed["lastModified"] = "2026-11-01T00:00:00.000"
    removed = alma_replay.obscore.pop(0)
    manage("harvest_archive", "--archive-url", alma_replay.url)
    manage("harvest_archive", "--archive-url", alma_replay.url, "--full")

    # An incremental run reads from the last run's lastModified on, inclusively (a row changed
    # in the same millisecond must not be missed): the 258 real rows ALMA stamped with one
    # instant are read again each time, compared, and left alone.
    assert runs(database) == [
        ("incremental", "done", 417, 417, 0, 0),
        ("incremental", "done", 258, 0, 0, 0),
        ("incremental", "done", 259, 0, 1, 0),
        ("full", "done", 416, 0, 0, 1),
    ]
    assert scalar(database, "SELECT count(*) FROM queries_observation") == 416
    assert (
        scalar(
            database,
            "SELECT target_name FROM queries_observation WHERE obs_id = ?",
            changed["obs_id"],
        )
        == "Renamed upstream"
    )
    assert not scalar(
        database, "SELECT count(*) FROM queries_observation WHERE obs_id = ?", removed["obs_id"]
    )
    assert not scalar(
        database, "SELECT count(*) FROM queries_observation WHERE member_ous_id IS NULL"
    )
