#!/usr/bin/env python
"""Server time of "tick all results" (``/basket/offer/``): count and size of a whole result.

    .venv/bin/python bench/bench_basket_offer.py --database-url postgres://postgres@127.0.0.1:5432/ap_bench_b

Loads nothing itself: run ``bench/bench_mirror.py`` on the same database first. Calls the view
the result page loads after it is shown (``downloads.views_basket.basket_offer``) for a member
who is PI of nothing, for results from a few dozen member OUSs to a fifth of the mirror, after
two warm-ups, and prints p50/p95 in ms over ``--runs`` runs, the member OUSs it found and the
SQL statements it sent. The control is fetched apart from the page, so it is not in the page's
25 ms (issue 13); the figure says how long the button waits for its numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

import django_setup
from django_setup import DEFAULT_URL, percentile

CASES = [
    ("cone 0.2 deg + band 6 (Orion KL)", {"ra_dec": "83.8221 -5.3911, 0.2", "band_list": "6"}),
    ("frequency 230..250 GHz", {"frequency": "230..250"}),
    ("band 6, all sky", {"band_list": "6"}),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    django_setup.setup(args.database_url)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from downloads.views_basket import basket_offer
    from queries.models import Observation

    member, _ = get_user_model().objects.get_or_create(username="bench-basket")
    call = django_setup.member_get(basket_offer, "/basket/offer/", member, htmx=True)

    load = os.getloadavg()
    print(
        f"{Observation.objects.count():,} observations; p50 / p95 in ms over {args.runs} runs; "
        f"load average {load[0]:.1f} {load[1]:.1f} on {os.cpu_count()} cores\n"
    )
    print(f"{'result':36} {'member OUSs':>12} {'withheld':>9} {'p50':>8} {'p95':>8} {'queries':>8}")
    for label, params in CASES:
        call(params)
        with CaptureQueriesContext(connection) as captured:
            body = call(params).content.decode()
        found = re.search(r"Tick all (\d+) member OUS", body)
        withheld = re.search(r"(\d+) proprietary member OUS", body)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            call(params)
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"{label:36} {int(found.group(1)) if found else 0:12,} "
            f"{int(withheld.group(1)) if withheld else 0:9,} {statistics.median(times):8.1f} "
            f"{percentile(times, 0.95):8.1f} {len(captured.captured_queries):8d}",
            flush=True,
        )
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
