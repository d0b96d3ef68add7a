"""Django set-up shared by the benchmark scripts: the bench database, no collectstatic needed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ap_bench"


def setup(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DEBUG", "1")  # static files from the finders: no collectstatic here
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archiveportal.settings")
    import django

    django.setup()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank), as every bench reports p50 and p95."""
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def member_get(view, path: str, user, *, htmx: bool = False):
    """A function that calls ``view`` with a GET of ``path`` and the given parameters as
    ``user``, as a browser's request would reach it (no middleware: the benches time the view),
    checks the answer is 200 and returns it. Call after ``setup``."""
    from django.test import RequestFactory

    factory = RequestFactory()

    def call(params: dict[str, str]):
        request = factory.get(path, params)
        request.user = user
        request.htmx = htmx
        response = view(request)
        assert response.status_code == 200, response.content[:500]
        return response

    return call
