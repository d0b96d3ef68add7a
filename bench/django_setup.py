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
