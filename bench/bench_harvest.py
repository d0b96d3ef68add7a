#!/usr/bin/env python
"""Benchmark of the harvest's ingest: 1,000,000 upstream rows normalised and merged into the
mirror (staging table, COPY, one INSERT ... ON CONFLICT per page, change journal, cursor).

    .venv/bin/python bench/bench_harvest.py                 # 1M rows, target >= 20,000 rows/s
    .venv/bin/python bench/bench_harvest.py --rows 100000   # quicker

The upstream is the synthetic archive ``bench_mirror.py`` loaded into ``ap_bench`` (read only,
never written): its rows are streamed in lastModified order with a server-side cursor, shaped
as a TAP answer is (ObsCore column names, plain values) and handed page by page to
``harvest.services.run_pages``, exactly what a harvest does with each page it fetched. Reading
the source (the stand-in for the network) is timed apart from the ingest. The target is a
scratch database (``ap_bench_harvest``, re-created each run). Two passes are timed:

1. first harvest, empty mirror: every row new, then the run's final step (hierarchy and
   per-MOUS aggregates of every project, the secondary indexes the first load deferred,
   ANALYZE); the rate is over both, and each part is printed;
2. the same rows again: nothing changes (every row compared, none written).

Each part of pass 1 (``PAGE_PARTS``, ``FINAL_PARTS``) is printed after the totals.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SOURCE_URL = "postgres://postgres@127.0.0.1:5432/ap_bench"
TARGET_URL = "postgres://postgres@127.0.0.1:5432/ap_bench_harvest"
TARGET_ROWS_PER_S = 20_000
# Mirror columns the loader derives itself: an upstream never sends them.
NOT_UPSTREAM = {
    "id",
    "project_id",
    "member_ous_id",
    "s_x",
    "s_y",
    "s_z",
    "band_mask",
    "target_name_key",
    "extra",
    "source_file",
}


# The final step's parts, timed by wrapping the functions it calls: (label, module, function).
# An indented label is inside the part above it.
FINAL_PARTS = [
    ("hierarchy, windows, journal reads", "harvest.services", "_rebuild_and_record_releases"),
    ("  hierarchy statements", "queries.hierarchy_sql", "rebuild"),
    ("    projects", "queries.hierarchy_sql", "_upsert_projects"),
    ("    groups", "queries.hierarchy_sql", "_upsert_groups"),
    ("    member OUSs", "queries.hierarchy_sql", "_upsert_mouses"),
    ("    blocks", "queries.hierarchy_sql", "_upsert_blocks"),
    ("    links", "queries.hierarchy_sql", "_link_observations"),
    ("  summaries", "queries.hierarchy_sql", "refresh_summaries"),
    ("  spectral windows", "queries.hierarchy", "rebuild_windows"),
    ("deferred indexes and keys", "harvest.services", "restore_indexes"),
    ("ANALYZE", "harvest.services", "analyze"),
    # Beside the transaction, on connections of their own (``harvest.bulk.build_alongside``).
    ("beside: spectral windows (a first load's)", "queries.spectral", "rebuild_windows"),
    ("beside: journal (a first load's)", "harvest.bulk", "journal_first_load"),
]
# The pages' parts: the main thread's (merge and cursor, in its transaction) and the
# read-ahead thread's (normalise and prepare the next page, overlapped with the merge).
PAGE_PARTS = [
    ("main thread: page transactions", "harvest.services", "apply_fetched"),
    ("  project and member OUS ids", "queries.hierarchy_sql", "ids_for"),
    ("  COPY (rows; journal in the final step)", "queries.staging", "copy_binary"),
    ("read-ahead thread: normalise", "harvest.services", "normalise"),
    ("read-ahead thread: prepare", "harvest.services", "prepare"),
]
TOP_PARTS = [label for label, _, _ in FINAL_PARTS if not label.startswith((" ", "beside"))]


@contextmanager
def timed_parts(parts: list[tuple[str, str, str]]) -> Iterator[dict[str, float]]:
    """Seconds spent in each listed function while inside (each wrapped where it is called
    from: the module attribute its caller looks up), put back on the way out."""
    import importlib

    spent: dict[str, float] = {label: 0.0 for label, _, _ in parts}
    originals = []
    for label, module_name, name in parts:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        originals.append((module, name, original))

        def timed(*args, original=original, label=label, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t

        setattr(module, name, timed)
    try:
        yield spent
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--page", type=int, default=20_000, help="rows per page (HARVEST_PAGE_ROWS)")
    p.add_argument("--source-url", default=os.environ.get("BENCH_DATABASE_URL", SOURCE_URL))
    p.add_argument("--target-url", default=TARGET_URL)
    p.add_argument("--block", type=int, default=100_000, help="rows read before timing")
    return p.parse_args()


def recreate(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def source_pages(url: str, rows: int, page: int):
    """Pages of upstream-shaped rows (dicts keyed by ObsCore names) in lastModified order."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'queries_observation' ORDER BY ordinal_position"
            )
        ]
        columns = [n for n in names if n not in NOT_UPSTREAM]
        select = ", ".join(
            'last_modified AS "lastModified"' if c == "last_modified" else c for c in columns
        )
        with conn.cursor(name="harvest_source", row_factory=dict_row) as cursor:
            cursor.itersize = page
            cursor.execute(
                f"SELECT {select} FROM queries_observation ORDER BY last_modified, obs_id LIMIT %s",
                [rows],
            )
            while batch := cursor.fetchmany(page):
                yield batch


def timed_pass(label: str, run, pages_of, block: int) -> tuple[int, float, float]:
    """Ingest every source page through ``harvest.services.run_pages`` (what a harvest runs on
    the pages it fetches: read-ahead normalisation, COPY, merge, journal, cursor). The source is
    read ``block`` rows at a time before the clock starts, so only the ingest is timed."""
    from harvest.services import run_pages

    ingest = read = 0.0
    seen = 0
    pages = iter(pages_of())
    while True:
        t0 = time.perf_counter()
        chunk = []
        for batch in pages:
            chunk.append(batch)
            if sum(map(len, chunk)) >= block:
                break
        read += time.perf_counter() - t0
        if not chunk:
            break
        queued = iter(chunk)
        t0 = time.perf_counter()
        run_pages(run, lambda after, queued=queued: next(queued, []))
        ingest += time.perf_counter() - t0
        seen += sum(map(len, chunk))
        print(f"\r  {label}: {seen:,} rows, {seen / ingest:,.0f} rows/s", end="", flush=True)
    print()
    return seen, ingest, read


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    recreate(args.target_url)
    os.environ["DATABASE_URL"] = args.target_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "archiveportal.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from harvest.bulk import defer_indexes_if_empty
    from harvest.models import ChangeKind, HarvestRun, ObservationChange
    from harvest.services import finalize
    from queries.models import Observation

    call_command("migrate", verbosity=0)
    pages_of = lambda: source_pages(args.source_url, args.rows, args.page)  # noqa: E731
    print(f"harvest ingest benchmark: {args.rows:,} rows in pages of {args.page:,}")

    first = HarvestRun.objects.create(archive_url="http://bench.invalid")
    t0 = time.perf_counter()
    defer_indexes_if_empty(first)  # as harvest_pages does on an empty mirror
    with timed_parts(PAGE_PARTS) as page_parts:
        n1, ingest1, read1 = timed_pass("pass 1 (all new)", first, pages_of, args.block)
    ingest1 += time.perf_counter() - t0 - ingest1 - read1  # the drop, counted in pass 1
    first.refresh_from_db()
    # The final step: hierarchy of every project, then the deferred indexes, then ANALYZE.
    with timed_parts(FINAL_PARTS) as parts:
        t0 = time.perf_counter()
        finalize(first)
        final = time.perf_counter() - t0
    second = HarvestRun.objects.create(archive_url="http://bench.invalid")
    n2, ingest2, read2 = timed_pass("pass 2 (unchanged)", second, pages_of, args.block)
    second.refresh_from_db()

    assert Observation.objects.count() == n1 == first.new_count, "every row must be new once"
    journaled = ObservationChange.objects.filter(run=first, kind=ChangeKind.NEW).count()
    assert journaled == n1, "every row must be journaled as new once"
    assert second.new_count == second.changed_count == 0, "a second pass must change nothing"
    rate1, rate2 = n1 / (ingest1 + final), n2 / ingest2
    print()
    print(f"{'pass':<34}{'rows':>11}{'ingest s':>10}{'rows/s':>10}{'target':>10}  ok")
    for label, n, secs, rate in (
        ("1: empty mirror, + final step", n1, ingest1 + final, rate1),
        ("2: same rows again, no change", n2, ingest2, rate2),
    ):
        ok = "yes" if rate >= TARGET_ROWS_PER_S else "NO"
        print(f"{label:<34}{n:>11,}{secs:>10.1f}{rate:>10,.0f}{TARGET_ROWS_PER_S:>10,}  {ok}")
    print(f"(reading the source, the network's stand-in, untimed: {read1:.1f} s and {read2:.1f} s)")
    print(
        f"(pass 1 = pages {ingest1:.1f} s ({n1 / ingest1:,.0f} rows/s) + final step {final:.1f} s)"
    )
    print("pages of pass 1, by part (s; the two threads overlap):")
    for label, seconds in page_parts.items():
        print(f"  {label:<44}{seconds:>7.1f}")
    print("final step, by part (s; nested parts are inside the one above them):")
    for label, seconds in parts.items():
        print(f"  {label:<44}{seconds:>7.1f}")
    print(f"  {'(rest of the final step)':<44}{final - sum(parts[k] for k in TOP_PARTS):>7.1f}")
    return 0 if min(rate1, rate2) >= TARGET_ROWS_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
