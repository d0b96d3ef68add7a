#!/usr/bin/env python
"""Benchmark of ``manage.py load_archive``: an ObsCore CSV of 1,000,000 rows into PostgreSQL.

    .venv/bin/python bench/bench_load_archive.py                  # 1M rows, target >= 20,000 rows/s
    .venv/bin/python bench/bench_load_archive.py --rows 100000    # quicker

The rows are the synthetic archive ``bench_mirror.py`` loaded into ``ap_bench`` (read only,
never written), written once as a CSV with ObsCore column names (as ALMA's TAP hands them out;
kept in ``--file`` and reused by later runs). The target is a scratch database
(``ap_bench_load``, re-created and migrated each run, so every index is in place). The command
is timed from start to end: reading and normalising the file and COPYing it into the mirror
(``arrow_load``'s stream, or the exact path; into an empty mirror the rows' spectral windows
go in with them), deriving the hierarchy of every project, building the deferred indexes and
keys. Each of the three parts is timed too (wall clock around the
function that does it) and printed under the total.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from bench_harvest import NOT_UPSTREAM, recreate

ROOT = Path(__file__).resolve().parent.parent
SOURCE_URL = "postgres://postgres@127.0.0.1:5432/ap_bench"
TARGET_URL = "postgres://postgres@127.0.0.1:5432/ap_bench_load"
TARGET_ROWS_PER_S = 20_000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--source-url", default=os.environ.get("BENCH_DATABASE_URL", SOURCE_URL))
    p.add_argument("--target-url", default=TARGET_URL)
    p.add_argument("--file", type=Path, default=None, help="the CSV (default: /tmp, per --rows)")
    args = p.parse_args()
    if args.rows < 1:
        p.error("--rows: must be 1 or more")
    args.file = args.file or Path(f"/tmp/ap_bench_obscore_{args.rows}.csv")
    return args


def write_csv(url: str, rows: int, path: Path) -> None:
    """The first ``rows`` ObsCore rows of ``url`` as a CSV file (PostgreSQL's COPY, UTC)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        names = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'queries_observation' ORDER BY ordinal_position"
            )
        ]
        select = ", ".join(
            'last_modified AS "lastModified"' if c == "last_modified" else c
            for c in names
            if c not in NOT_UPSTREAM
        )
        partial = path.with_suffix(".partial")
        with conn.cursor() as cursor, partial.open("wb") as out:
            query = (
                f"COPY (SELECT {select} FROM queries_observation ORDER BY obs_id LIMIT {rows}) "
                "TO STDOUT (FORMAT CSV, HEADER)"
            )
            with cursor.copy(query) as copy:
                for block in copy:
                    out.write(block)
        partial.rename(path)


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    if not args.file.exists():
        t0 = time.perf_counter()
        write_csv(args.source_url, args.rows, args.file)
        size = args.file.stat().st_size / 1e6
        print(f"wrote {args.file} ({size:,.0f} MB) in {time.perf_counter() - t0:.1f} s")
    recreate(args.target_url)
    os.environ["DATABASE_URL"] = args.target_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "archiveportal.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from queries.models import Observation

    call_command("migrate", verbosity=0)
    parts = timed_parts()
    print(f"load_archive benchmark: {args.file} into {args.target_url}")
    t0 = time.perf_counter()
    call_command("load_archive", str(args.file))
    seconds = time.perf_counter() - t0
    rows = Observation.objects.count()
    assert not Observation.objects.filter(member_ous__isnull=True).exists(), "hierarchy derived"
    rate = rows / seconds
    ok = "yes" if rate >= TARGET_ROWS_PER_S else "NO"
    print()
    print(f"{'command':<30}{'rows':>11}{'s':>8}{'rows/s':>10}{'target':>10}  ok")
    print(
        f"{'load_archive (CSV)':<30}{rows:>11,}{seconds:>8.1f}{rate:>10,.0f}"
        f"{TARGET_ROWS_PER_S:>10,}  {ok}"
    )
    for part, spent in parts.items():
        if spent:  # a first load and a reload take different parts
            print(f"  {part:<38}{spent:>9.1f}")
    return 0 if rate >= TARGET_ROWS_PER_S else 1


def timed_parts() -> dict[str, float]:
    """Seconds spent in each part of the load, filled as the command runs: the functions that
    do them, wrapped with a clock where the loader looks them up. A part counts only the time
    no other part of its thread is running around it (the final step builds the indexes of the
    tables it rewrites itself: they count in it, not in "indexes and keys"); indented parts
    are inside the one above them. A first load into an empty mirror commits its rows, then
    derives the hierarchy on this connection while a second builds the indexes
    (``queries.pending_indexes``): "after the rows' commit" is that wall time, and the two
    connections' parts under it overlap."""
    from queries import bulk_indexes, hierarchy, hierarchy_sql, pending_indexes
    from queries.archive import loader

    beside = "  index builds (second connection)"
    parts = dict.fromkeys(
        (
            "rows into the mirror",
            "after the rows' commit",
            "  hierarchy and windows",
            "    hierarchy (rebuild)",
            "    summaries",
            "    positions",
            "    windows",
            beside,
            "  keys, last indexes (this connection)",
            "indexes and keys",
        ),
        0.0,
    )
    local = threading.local()

    def clocked(owner: object, name: str, part: str, *, nested: bool = False) -> None:
        inner = getattr(owner, name)

        def wrapper(*a, **kw):
            running = local.__dict__.setdefault("running", [])
            label = part
            if name == "build" and threading.current_thread().name == "index-build-beside":
                label = beside
            elif name == "build" and "after the rows' commit" in running:
                label = "  keys, last indexes (this connection)"
            elif running and not nested and label != beside:
                return inner(*a, **kw)  # inside another part: counted there
            running.append(label)
            t0 = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                parts[label] += time.perf_counter() - t0
                running.pop()

        setattr(owner, name, wrapper)

    clocked(loader, "_load_table", "rows into the mirror")
    clocked(pending_indexes, "build_beside", "after the rows' commit")
    clocked(loader, "rebuild_hierarchy", "  hierarchy and windows", nested=True)
    clocked(hierarchy_sql, "rebuild", "    hierarchy (rebuild)", nested=True)
    clocked(hierarchy_sql, "refresh_summaries", "    summaries", nested=True)
    clocked(hierarchy, "refresh_positions", "    positions", nested=True)
    clocked(hierarchy, "rebuild_windows", "    windows", nested=True)
    # A first load writes the windows with the rows (counted there) and only notes the widest.
    clocked(hierarchy, "note_widest_window", "    windows", nested=True)
    clocked(bulk_indexes, "build", "indexes and keys")
    return parts


if __name__ == "__main__":
    sys.exit(main())
