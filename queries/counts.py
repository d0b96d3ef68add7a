"""The exact count of a large search, remembered until the mirror changes.

Counting 86,000 matches of a frequency range costs PostgreSQL 6-8 ms of CPU each time; a member
turning to page 2, or 50 members running the lab's saved searches, would pay it again for the
same number. A count is remembered per search (its compiled WHERE and parameters) together with
the mirror's *generation*, and used only while the generation is unchanged.

The generation is the newest row of ``queries_mirrorchange``, a log that statement-level
triggers on every table a search may read (``COUNTED_TABLES``, migration 0011) append the
table's name to on each INSERT, UPDATE, DELETE or TRUNCATE, whatever wrote it (the ORM, COPY,
a harvest's merge, raw SQL). Being a table, it is read within the statement's snapshot, so
the generation a statement sees belongs to the data that statement sees.

One race is closed by a lock: a writer that has logged its change but not yet committed. Its
log id may be lower than a newer, committed one, so a count taken meanwhile would carry a
generation that does not move when it commits. The trigger therefore takes a shared
transaction-level advisory lock (``MIRROR_LOCK``) before logging, held until its commit; a
count is remembered only when its snapshot was taken while this process held the same lock
exclusively (``pg_try_advisory_lock``, never waited for: if a writer is busy the count is just
not remembered; ``counting`` says how). Writers that log after that get higher ids. So a
remembered count is never used for data it was not counted on; at worst it is not used.

Not used at all: off PostgreSQL, inside a transaction block (its own uncommitted writes would
be counted and their log entry rolled back with them, e.g. in tests), for a WHERE that reads a
table the triggers do not cover, and when ``QUERIES_COUNT_CACHE_SECONDS`` is 0.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Every table a search's WHERE may read. Migration 0011 puts the triggers on exactly these
# (a test compares the two); a WHERE reading any other table is never remembered.
COUNTED_TABLES = frozenset(
    {
        "queries_project",
        "queries_projectsummary",
        "queries_sciencegoal",
        "queries_groupous",
        "queries_memberous",
        "queries_executionblock",
        "queries_archivefile",
        "queries_observation",
        "queries_spectralwindow",
        "targets_targetlist",
        "targets_targetrow",
        "targets_targetmatch",
        "targets_targetous",
        "targets_targetproject",
        "targets_targetbandcount",
    }
)
LOG_TABLE = "queries_mirrorchange"
# The advisory lock key the triggers take shared (migration 0011 has the same number).
MIRROR_LOCK = 1_297_302_051
# For a statement's select list: the generation its snapshot sees, as "database oid:newest log
# id". The oid changes when the database is re-created or restored (the log's ids then start
# again), so a count remembered in Redis for an earlier database of the same name never matches.
GENERATION_SQL = (
    "(SELECT (SELECT oid FROM pg_database WHERE datname = current_database())::text "
    f"|| ':' || COALESCE(MAX(id), 0) FROM {LOG_TABLE})"
)
_TABLES = re.compile(r'(?:FROM|JOIN)\s+"(\w+)"', re.IGNORECASE)


@dataclass(frozen=True)
class Remembered:
    generation: str
    total: int


def usable(where: tuple[str, tuple] | None) -> bool:
    """Whether counts of this WHERE may be remembered and used here and now."""
    if where is None or seconds() <= 0 or connection.vendor != "postgresql":
        return False
    if connection.in_atomic_block:
        return False
    return set(_TABLES.findall(where[0])) <= COUNTED_TABLES


def seconds() -> int:
    return int(getattr(settings, "QUERIES_COUNT_CACHE_SECONDS", 0))


def _key(where: tuple[str, tuple]) -> str:
    text = repr((connection.settings_dict["NAME"], where[0], where[1]))
    return "queries:count:" + hashlib.sha256(text.encode()).hexdigest()


def remembered(where: tuple[str, tuple] | None) -> Remembered | None:
    """The count last stored for this WHERE, with its generation, or None. The caller checks
    the generation against the one its own statement sees before trusting the total."""
    if not usable(where):
        return None
    try:
        found = cache.get(_key(where))
    except RedisError as error:  # best effort: with the cache down, pages count as before
        log.warning("counts: not remembered, the cache is unavailable (%s)", type(error).__name__)
        return None
    return Remembered(*found) if found else None


@contextmanager
def counting(where: tuple[str, tuple] | None) -> Iterator[bool]:
    """Around the statement that counts: yields whether its count may be remembered, i.e.
    whether no writer was between logging a change and committing it (see the module's
    docstring), and if so runs the statement on a snapshot taken under the lock.

    The lock is held only from the check to the snapshot, never while the count waits for a
    table: a bulk load holds the observations exclusively (its indexes dropped) before it
    logs, and a count waiting for that table while holding the lock its trigger wants would
    deadlock the two. So the snapshot is taken in a REPEATABLE READ transaction by the
    statement that releases the lock, and the count then runs on that snapshot."""
    if not usable(where):
        yield False
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIRROR_LOCK])
        locked = cursor.fetchone()[0]
    if not locked:
        yield False
        return
    released = False
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIRROR_LOCK])
                released = True
            yield True
    finally:
        if not released:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIRROR_LOCK])


def remember(where: tuple[str, tuple], generation: str, total: int) -> None:
    """Store a count taken inside ``counting`` (which said yes) by a statement that saw
    ``generation``."""
    try:
        cache.set(_key(where), (generation, total), seconds())
    except RedisError as error:
        log.warning("counts: not remembered, the cache is unavailable (%s)", type(error).__name__)


def changed_sql(table: str) -> str:
    """SQL for the newest log id of writes to one of ``COUNTED_TABLES``: what moved since a
    reader last looked, whatever wrote it (the target lists' stamp reads observations')."""
    if table not in COUNTED_TABLES:
        raise ValueError(f"{table} has no change trigger")
    return f"(SELECT COALESCE(MAX(id), 0) FROM {LOG_TABLE} WHERE relname = '{table}')"


def prune() -> int:
    """Forget all but each table's newest entry of the change log (an hourly beat task): only
    the newest ids are ever read, and deleting older committed rows cannot change them."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {LOG_TABLE} l WHERE id < "
            f"(SELECT MAX(id) FROM {LOG_TABLE} m WHERE m.relname = l.relname)"
        )
        return cursor.rowcount
