#!/usr/bin/env python
"""Server time of the result page's pictures (sky plot, spectral view) next to the page itself.

    .venv/bin/python bench/bench_pictures.py              # the 1M-row ap_bench database
    .venv/bin/python bench/bench_pictures.py --runs 30

Each picture is its own request after the table (``hx-trigger="load"``), so it never delays
the table; the figure to watch is that a picture costs no more than the page it illustrates
(issue 14: "page speed stays within the performance issue's budget with the pictures on").
For every case of ``bench_search_views.py`` it calls ``search_page`` for a logged-in member,
then, as the browser does, ``sky_fragment`` and ``spectrum_fragment`` with the query strings
the page put in its ``hx-get`` (so they find the rows the page handed over, see
``queries/pictures.py``; nothing else is cached), and prints p50/p95 in ms over ``--runs`` runs
after one warm-up. ``--no-handover`` asks for the pictures as another member, for whom the
page handed nothing over: the cost of a picture URL opened on its own. Stops by itself.
"""

from __future__ import annotations

import argparse
import html
import re
import statistics
import sys
import time

import django_setup
from bench_search_views import cases
from django_setup import DEFAULT_URL, percentile

TARGET_MS = 25.0  # issue 13's page budget, p95


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--no-handover", action="store_true", help="pictures as a member who saw no page"
    )
    args = parser.parse_args()
    django_setup.setup(args.database_url)

    from django.contrib.auth import get_user_model
    from django.http import QueryDict
    from django.test import RequestFactory

    from queries.views import search_page, sky_fragment, spectrum_fragment

    user, _ = get_user_model().objects.get_or_create(username="bench-member")
    viewer = user
    if args.no_handover:
        viewer, _ = get_user_model().objects.get_or_create(username="bench-member-2")
    factory = RequestFactory()

    def picture_params(page, name: str) -> QueryDict | None:
        """The query string of the page's request for a picture (None: it asks for none)."""
        found = re.search(rf'hx-get="/aq/{name}/\?([^"]+)"', page.content.decode())
        return QueryDict(html.unescape(found.group(1))) if found else None

    def timed(view, params, member) -> list[float]:
        times = []
        for run in range(args.runs + 1):
            request = factory.get("/aq/", params)
            request.user = member
            request.htmx = False
            started = time.perf_counter()
            response = view(request)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.content[:300]
            if run:
                times.append(elapsed)
        return times

    mode = "as a member who saw no page" if args.no_handover else "after the page, as a browser"
    print(f"p50 / p95 in ms over {args.runs} runs, pictures {mode}; target: p95 <= {TARGET_MS:g}\n")
    print(f"{'search':42} {'page':>13} {'sky':>13} {'spectrum':>13}  pictures within")
    worst = 0.0
    for label, params in cases():
        figures = []
        t = timed(search_page, params, user)
        figures.append((statistics.median(t), percentile(t, 0.95)))
        request = factory.get("/aq/", params)
        request.user, request.htmx = user, False
        page = search_page(request)
        for view, name in ((sky_fragment, "sky"), (spectrum_fragment, "spectrum")):
            picture = picture_params(page, name)
            if picture is None:  # an empty result: the page draws no picture
                figures.append(None)
                continue
            t = timed(view, picture, viewer)
            figures.append((statistics.median(t), percentile(t, 0.95)))
        drawn = [f[1] for f in figures[1:] if f is not None]
        worst = max([worst, *drawn])
        ok = "yes" if max(drawn, default=0.0) <= TARGET_MS else "NO"
        cells = " ".join(
            f"{f[0]:6.1f}/{f[1]:6.1f}" if f is not None else f"{'(none)':>13}" for f in figures
        )
        print(f"{label:42} {cells}  {ok}", flush=True)
    print(f"\nworst picture p95: {worst:.1f} ms (target <= {TARGET_MS:g})")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
