"""Project-level views: health."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .health import run_checks


@never_cache
@login_not_required
def health(request):
    """Machine-readable health; 503 when the database or broker is down.

    Worker absence is reported but does not fail the check: a web container must not be
    restarted because the worker container is.
    """
    checks = run_checks(workers=request.GET.get("workers") != "0")
    body = {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}
    essential_ok = all(c.ok for c in checks if c.name != "workers")
    return JsonResponse({"ok": essential_ok, "checks": body}, status=200 if essential_ok else 503)
