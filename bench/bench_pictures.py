#!/usr/bin/env python
"""Server time of the result page's pictures (sky plot, spectral view) next to the page itself.

    .venv/bin/python bench/bench_pictures.py              # the 1M-row ap_bench database
    .venv/bin/python bench/bench_pictures.py --runs 30

Each picture is its own request after the table (``hx-trigger="load"``), so it never delays
the table; the figure to watch is that a picture costs no more than the page it illustrates
(issue 14: "page speed stays within the performance issue's budget with the pictures on").
For every case of ``bench_search_views.py`` it calls ``search_page``, ``sky_fragment`` and
``spectrum_fragment`` for a logged-in member and prints p50/p95 in ms over ``--runs`` runs
after one warm-up. Stops by itself.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import django_setup
from bench_search_views import cases, percentile
from django_setup import DEFAULT_URL

TARGET_MS = 25.0  # issue 13's page budget, p95


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    django_setup.setup(args.database_url)

    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from queries.views import search_page, sky_fragment, spectrum_fragment

    user, _ = get_user_model().objects.get_or_create(username="bench-member")
    factory = RequestFactory()

    def timed(view, params) -> list[float]:
        times = []
        for run in range(args.runs + 1):
            request = factory.get("/aq/", params)
            request.user = user
            request.htmx = False
            started = time.perf_counter()
            response = view(request)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.content[:300]
            if run:
                times.append(elapsed)
        return times

    print(f"p50 / p95 in ms over {args.runs} runs; target: each picture p95 <= {TARGET_MS:g}\n")
    print(f"{'search':42} {'page':>13} {'sky':>13} {'spectrum':>13}  pictures within")
    worst = 0.0
    for label, params in cases():
        figures = []
        for view in (search_page, sky_fragment, spectrum_fragment):
            t = timed(view, params)
            figures.append((statistics.median(t), percentile(t, 0.95)))
        worst = max(worst, figures[1][1], figures[2][1])
        ok = "yes" if max(figures[1][1], figures[2][1]) <= TARGET_MS else "NO"
        cells = " ".join(f"{p50:6.1f}/{p95:6.1f}" for p50, p95 in figures)
        print(f"{label:42} {cells}  {ok}")
    print(f"\nworst picture p95: {worst:.1f} ms (target <= {TARGET_MS:g})")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
