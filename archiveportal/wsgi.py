"""WSGI entry point for gunicorn.

Each worker loads the URL patterns (and with them every view module) before its first request,
then freezes what it has loaded out of the cyclic garbage collector's reach (``gc.freeze``): a
full collection otherwise walks the ~160,000 objects of Django, astropy and the portal's
modules, 100 ms or more of one request's time every few hundred pages (measured in the search
page benchmark, bench/README.md); with them frozen it walks only what requests left behind.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archiveportal.settings")
application = get_wsgi_application()


def _freeze_loaded_modules() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 -- imports every view module now
    gc.collect()
    gc.freeze()


_freeze_loaded_modules()
