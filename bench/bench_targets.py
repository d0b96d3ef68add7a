#!/usr/bin/env python
"""Server time of a search over a long target list: result pages in both modes and the API.

    .venv/bin/python bench/bench_targets.py --database-url postgres://postgres@127.0.0.1:5432/ap_bench_b
    .venv/bin/python bench/bench_targets.py --targets 200 --runs 10 --profile
    .venv/bin/python bench/bench_targets.py --radii 5,10,20     # a list of compact sources

Loads nothing itself: run ``bench/bench_mirror.py`` on the same database first. It then keeps
one target list of ``--targets`` rows (default ``TARGETS_MAX_ROWS``, the longest a member may
upload) owned by ``bench-targets``, already searched, as the worker leaves it: two thirds of the
rows on the position of an observation of the mirror (seeded, so every run asks the same), the
rest on empty sky, radii from 5 arcsec to 2 arcmin (``--radii``). A list of another length is
rebuilt.

Each case calls the view a browser's request (or an API client's) calls, for the list's owner,
after two warm-ups, and prints p50/p95 in ms over ``--runs`` runs, the SQL statements the call
sent and their bare time re-run on a plain cursor, next to issue 13's page target (p95 <= 25
ms). ``--profile`` prints the top of a cProfile of one call of each case.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import statistics
import sys
import time

import django_setup
from django_setup import DEFAULT_URL, percentile

PAGE_TARGET_MS = 25.0  # issue 13: every page p95 <= 25 ms
OWNER = "bench-targets"
LIST_NAME = "bench: the longest list"
SEED = 7


RADII_ARCSEC = (5, 30, 60, 120)


def bench_list(n: int, radii: tuple[float, ...] = RADII_ARCSEC):
    """The bench's target list of ``n`` searched rows (rebuilt when its length differs)."""
    from django.contrib.auth import get_user_model

    from archiveportal.jobs import Phase
    from queries.models import Observation
    from targets.models import RowStatus, TargetList, TargetRow
    from targets.selectors import mirror_stamp

    owner, _ = get_user_model().objects.get_or_create(username=OWNER)
    # Named after the mirror it was drawn from: a reloaded mirror gets a new list.
    name = (
        f"{LIST_NAME} ({Observation.objects.count():,} rows, newest {mirror_stamp()}, "
        f"radii {'/'.join(f'{r:g}' for r in radii)} arcsec)"
    )
    found = TargetList.objects.filter(owner=owner, name=name).first()
    if found is not None and found.rows.count() == n:
        return owner, found
    TargetList.objects.filter(owner=owner, name=name).delete()
    rng = random.Random(SEED)
    positions = list(
        Observation.objects.filter(s_ra__isnull=False, s_dec__isnull=False)
        .order_by("pk")
        .values_list("s_ra", "s_dec")
    )
    on_sky = rng.sample(positions, k=min(len(positions), (2 * n) // 3))
    target_list = TargetList.objects.create(owner=owner, name=name, phase=Phase.DONE)
    rows = []
    for number in range(1, n + 1):
        if number <= len(on_sky):
            ra, dec = on_sky[number - 1]
        else:
            ra, dec = rng.uniform(0, 360), rng.uniform(-80, 40)
        radius = rng.choice(radii) / 3600
        rows.append(
            TargetRow(
                target_list=target_list,
                number=number,
                text=f"{ra:.5f} {dec:.5f}, {radius:.5f}",
                label=f"T{number:04d}",
                ra=ra,
                dec=dec,
                radius=radius,
                status=RowStatus.SEARCHED,
                match_count=0,
            )
        )
    TargetRow.objects.bulk_create(rows)
    return owner, target_list


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--targets", type=int, default=None, help="rows (TARGETS_MAX_ROWS)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="cProfile one call of each case")
    parser.add_argument(
        "--radii",
        default=",".join(str(r) for r in RADII_ARCSEC),
        help="the targets' radii in arcsec, drawn at random (default 5,30,60,120)",
    )
    args = parser.parse_args()
    django_setup.setup(args.database_url)

    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIRequestFactory, force_authenticate

    from queries import api
    from queries.models import Observation
    from queries.views import search_page
    from targets import selectors, services
    from targets.access import ReaderMiddleware
    from targets.models import TargetList, TargetMatch

    n = args.targets or settings.TARGETS_MAX_ROWS
    owner, target_list = bench_list(n, tuple(float(r) for r in args.radii.split(",")))
    list_id = str(target_list.pk)
    # What the worker does last, once per list and again after each change of the mirror.
    TargetList.objects.filter(pk=list_id).update(matched_stamp="")
    cones = [target.cone for target in selectors.searched_targets(list_id)]
    started = time.perf_counter()
    services.refresh_matches(list_id, cones, stamp=selectors.mirror_stamp())
    stored_ms = (time.perf_counter() - started) * 1000
    matches = TargetMatch.objects.filter(target_list_id=list_id).count()
    factory, api_factory = RequestFactory(), APIRequestFactory()

    def page(params: dict[str, str]):
        def call():
            request = factory.get("/aq/", params)
            request.user = owner
            request.htmx = False
            return ReaderMiddleware(search_page)(request)

        return call

    def api_page(params: dict[str, str]):
        view = ReaderMiddleware(api.observations)

        def call():
            request = api_factory.get("/api/observations/", params)
            force_authenticate(request, user=owner)
            response = view(request)
            response.render()
            return response

        return call

    cases = [
        ("raw page 1", page({"target_list": list_id})),
        ("raw page 3", page({"target_list": list_id, "page": "3"})),
        ("project page 1", page({"target_list": list_id, "result_view": "project"})),
        ("raw page 1 + band 6", page({"target_list": list_id, "band_list": "6"})),
        (
            "project page 1 + band 6",
            page({"target_list": list_id, "band_list": "6", "result_view": "project"}),
        ),
        # A field the stored matches do not hold: counted and paged through the mirror.
        ("raw page 1 + 230..250 GHz", page({"target_list": list_id, "frequency": "230..250"})),
        ("API /api/observations/ page 1", api_page({"target_list": list_id})),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    load = os.getloadavg()
    print(
        f"{Observation.objects.count():,} observations; a list of {n:,} targets; "
        f"p50 / p95 in ms over {args.runs} runs; load average {load[0]:.1f} {load[1]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"storing the list's {matches:,} matches (the worker, once per mirror change): "
        f"{stored_ms:.0f} ms\n"
    )
    print(
        f"{'case':32} {'rows':>7} {'p50':>8} {'p95':>8} {'SQL p50':>8} {'SQL p95':>8} "
        f"{'queries':>8}  target (page p95)"
    )
    for label, call in cases:
        call()
        call()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        assert response.status_code == 200, response.content[:500]
        body = response.content
        count = re.search(rb'id="result-count">(\d+)', body) or re.search(
            rb'"count":\s*(\d+)', body
        )
        rows = int(count.group(1)) if count else 0
        statements = [q["sql"] for q in captured.captured_queries]
        times, sql_times = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                    if cursor.description:
                        cursor.fetchall()
            sql_times.append((time.perf_counter() - started) * 1000)
        p95 = percentile(times, 0.95)
        verdict = f"<= {PAGE_TARGET_MS:g}: {'met' if p95 <= PAGE_TARGET_MS else 'NOT met'}"
        print(
            f"{label:32} {rows:7,} {statistics.median(times):8.1f} {p95:8.1f} "
            f"{statistics.median(sql_times):8.1f} {percentile(sql_times, 0.95):8.1f} "
            f"{len(statements):8d}  {verdict}",
            flush=True,
        )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(call)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
