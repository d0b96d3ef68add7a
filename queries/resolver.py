"""Source names to coordinates: the database cache first, then Sesame when the network allows.

Answers (including "not found") are cached in ``ResolvedName`` so that a lab without internet
still resolves every name someone resolved before. Offline, or for an unknown name, the user is
told plainly and pointed at the "Source name (ALMA)" field; never a silent empty result.
"""

from __future__ import annotations

import logging

from django.conf import settings

from queries.errors import NameNotResolved
from queries.models import ResolvedName
from queries.names import name_key

log = logging.getLogger(__name__)
FIELD = "source_name_resolver"
LABEL = "Source name (resolver)"
SUGGESTION = (
    "Try the 'Source name (ALMA)' field, which matches the names observers gave "
    "their targets, or give coordinates."
)


SESAME_TIMEOUT_S = 5  # a search page waits for this at most, once per new name


def _ask_sesame(name: str) -> tuple[float, float] | None:
    """The one network call: astropy's Sesame client. None when the name is unknown.

    astropy reports an unreachable Sesame with the same exception class as an unknown name
    ("All Sesame queries failed"); that case is raised as ``ConnectionError`` so it is never
    cached as "not found".
    """
    # astropy.coordinates costs about a second to import: only when a name is resolved.
    from astropy.coordinates import SkyCoord
    from astropy.coordinates.name_resolve import NameResolveError
    from astropy.utils import data

    try:
        with data.conf.set_temp("remote_timeout", SESAME_TIMEOUT_S):
            coord = SkyCoord.from_name(name)
    except NameResolveError as exc:
        if "All Sesame queries failed" in str(exc):
            raise ConnectionError(str(exc)) from exc
        return None
    return float(coord.icrs.ra.deg), float(coord.icrs.dec.deg)


def resolve(name: str) -> tuple[float, float]:
    """(ra, dec) in ICRS degrees, or ``NameNotResolved`` with a message for the user."""
    key = name_key(name)
    if not key:
        raise NameNotResolved(FIELD, name, "is not a source name. " + SUGGESTION, label=LABEL)
    cached = ResolvedName.objects.filter(name_key=key).first()
    if cached is not None:
        if cached.found:
            return cached.ra, cached.dec
        raise NameNotResolved(
            FIELD, name, "is not known to the name resolver. " + SUGGESTION, label=LABEL
        )
    if not settings.QUERIES_RESOLVER_ONLINE:
        raise NameNotResolved(
            FIELD,
            name,
            "could not be resolved: the name resolver is not "
            "reachable from this portal. " + SUGGESTION,
            label=LABEL,
        )
    try:
        answer = _ask_sesame(name)
    except Exception:  # network errors of every kind: say so, do not cache
        log.warning("name resolver unreachable for %r", name, exc_info=True)
        raise NameNotResolved(
            FIELD,
            name,
            "could not be resolved: the name resolver did not answer. " + SUGGESTION,
            label=LABEL,
        ) from None
    ResolvedName.objects.update_or_create(
        name_key=key,
        defaults={
            "name": name[:256],
            "ra": answer[0] if answer else None,
            "dec": answer[1] if answer else None,
            "found": bool(answer),
        },
    )
    if answer is None:
        raise NameNotResolved(
            FIELD, name, "is not known to the name resolver. " + SUGGESTION, label=LABEL
        )
    return answer
