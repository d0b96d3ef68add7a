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
    restarted because the worker container is. Anyone learns up or down; only staff learn
    which part is down and what it runs (no map of the infrastructure for strangers).
    """
    staff = request.user.is_authenticated and request.user.is_staff
    checks = run_checks(workers=staff and request.GET.get("workers") != "0")
    essential_ok = all(c.ok for c in checks if c.name != "workers")
    body: dict = {"ok": essential_ok}
    if staff:
        body["checks"] = {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}
    return JsonResponse(body, status=200 if essential_ok else 503)
