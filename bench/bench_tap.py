#!/usr/bin/env python
"""TAP next to the search page on the same searches, and an async job's memory on 1M rows.

    .venv/bin/python bench/bench_tap.py              # uses the 1M-row ap_bench database
    .venv/bin/python bench/bench_tap.py --runs 20 --async-rows 1000000

(a) For each search, the search page's view (first 50 rows + exact count) and the TAP sync view
(the same constraint in ADQL, MAXREC=50, a streamed VOTable read to its end), both called in
process for a logged-in member, p50/p95 in ms over ``--runs`` runs after two warm-ups. The cone
differs in meaning: the page matches footprint bounding circles, TAP's INTERSECTS is exact.
(b) An async job of ``SELECT * FROM ivoa.obscore`` run by the worker code in a fresh process for
10,000 rows and for ``--async-rows`` rows, writing its VOTable to a temporary folder: elapsed
time and the process's peak resident memory, so flat memory shows as two similar peaks.
Load the data first with ``bench/bench_mirror.py``; everything stays on this machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django_setup
from django_setup import DEFAULT_URL, percentile

ORION = "83.8221 -5.3911"


def cases(code: str) -> list[tuple[str, dict[str, str], str]]:
    return [
        (
            "cone 0.2 deg + band 6 (Orion KL)",
            {"ra_dec": f"{ORION}, 0.2", "band_list": "6"},
            "SELECT * FROM ivoa.obscore WHERE "
            "1 = INTERSECTS(CIRCLE('ICRS', 83.8221, -5.3911, 0.2), s_region) "
            "AND band_list LIKE '%6%'",
        ),
        (
            "cone 0.2 deg, empty field",
            {"ra_dec": "200 -5.3911, 0.2"},
            "SELECT * FROM ivoa.obscore WHERE "
            "1 = INTERSECTS(CIRCLE('ICRS', 200, -5.3911, 0.2), s_region)",
        ),
        (
            "project code",
            {"project_code": code},
            f"SELECT * FROM ivoa.obscore WHERE proposal_id = '{code}'",
        ),
        (
            "frequency 230..250 GHz",
            {"frequency": "230..250"},
            "SELECT * FROM ivoa.obscore WHERE frequency BETWEEN 230 AND 250",
        ),
        (
            "source name (ALMA) NGC 1068",
            {"source_name_alma": "NGC 1068"},
            "SELECT * FROM ivoa.obscore WHERE target_name = 'NGC 1068'",
        ),
        # The page's wildcards match the folded name key (indexed in 0002); TAP's LIKE matches
        # target_name as ALMA stored it (indexed in queries/migrations/0003).
        (
            "source name LIKE 'NGC_10%'",
            {"source_name_alma": "NGC_10*"},
            "SELECT * FROM ivoa.obscore WHERE target_name LIKE 'NGC_10%'",
        ),
        (
            "source name LIKE '%1068%'",
            {"source_name_alma": "*1068*"},
            "SELECT * FROM ivoa.obscore WHERE target_name LIKE '%1068%'",
        ),
    ]


def compare(runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from queries.models import Observation, Project
    from queries.views import search_page
    from vo.views import sync

    code = (
        Project.objects.filter(is_synthetic=True, code__contains=".9")
        .order_by("code")
        .values_list("code", flat=True)[500]
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-member")
    factory = RequestFactory()

    page = django_setup.member_get(search_page, "/aq/", user)

    def tap(query: str) -> None:
        request = factory.post("/tap/sync", {"QUERY": query, "MAXREC": "50", "LANG": "ADQL"})
        request.user = user
        response = sync(request)
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert b'value="ERROR"' not in body

    print(f"{Observation.objects.count():,} observations; p50 / p95 in ms over {runs} runs\n")
    print(f"{'search':36} {'page p50':>9} {'page p95':>9} {'TAP p50':>9} {'TAP p95':>9}")
    for label, params, query in cases(code):
        for _ in range(2):
            page(params)
            tap(query)
        page_ms, tap_ms = [], []
        for _ in range(runs):
            started = time.perf_counter()
            page(params)
            page_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            tap(query)
            tap_ms.append((time.perf_counter() - started) * 1000)
        print(
            f"{label:36} {statistics.median(page_ms):9.1f} {percentile(page_ms, 0.95):9.1f} "
            f"{statistics.median(tap_ms):9.1f} {percentile(tap_ms, 0.95):9.1f}"
        )


def child_async(rows: int, folder: str) -> None:
    """In a fresh process: one async job of ``rows`` rows, then its time and peak memory."""
    from django.conf import settings

    from archiveportal import jobs
    from vo import uws
    from vo.models import TapJob

    settings.VO_TAP_RESULTS_DIR = Path(folder)
    job = uws.create(
        owner=None,
        query="SELECT * FROM ivoa.obscore",
        lang="ADQL",
        maxrec=rows,
        response_format="votable",
    )
    TapJob.objects.filter(pk=job.pk).update(phase=jobs.Phase.QUEUED)
    started = time.perf_counter()
    uws.execute_job(str(job.pk))
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    size = uws.result_path(job).stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    uws.delete(job)
    print(json.dumps({"rows": job.result_rows, "seconds": elapsed, "peak_mb": peak_mb,
                      "bytes": size, "phase": job.phase}))  # fmt: skip


def async_memory(database_url: str, rows: int) -> None:
    print(f"\n{'async job, SELECT * FROM ivoa.obscore':44} {'rows':>10} {'s':>7} {'MB out':>8} "
          f"{'peak RSS MB':>12}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for count in (10_000, rows):
            done = subprocess.run(
                [sys.executable, __file__, "--database-url", database_url,
                 "--child-async", str(count), "--folder", folder],
                capture_output=True, text=True, check=True, timeout=1800,
            )  # fmt: skip
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{'':44} {figures['rows']:>10,} {figures['seconds']:7.1f} "
                f"{figures['bytes'] / 1e6:8.0f} {figures['peak_mb']:12.0f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--async-rows", type=int, default=1_000_000)
    parser.add_argument("--child-async", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    django_setup.setup(args.database_url)
    if args.child_async:
        child_async(args.child_async, args.folder)
        return 0
    compare(args.runs)
    async_memory(args.database_url, args.async_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
