"""A member's coming releases as an iCalendar feed (RFC 5545, written by ``icalendar``).

One all-day event per member OUS, on its release day (UTC), whose UID is the member OUS's
own: when ALMA moves a release date the same event moves in the member's calendar program on
its next refresh, and ``SEQUENCE`` counts the moves the mirror has seen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from icalendar import Calendar, Event

from archiveportal import clock
from harvest.models import ChangeKind, ObservationChange
from watches.selectors import upcoming_releases


def feed(user, *, now: datetime | None = None) -> bytes:
    now = now or clock.now()
    groups = upcoming_releases(user, now=now)
    uids = [r.mous.uid for g in groups for r in g.releases]
    moves = dict(
        ObservationChange.objects.filter(member_ous_uid__in=uids, kind=ChangeKind.RELEASE_MOVED)
        .values("member_ous_uid")
        .annotate(n=Count("run", distinct=True))
        .values_list("member_ous_uid", "n")
    )
    base = settings.PORTAL_BASE_URL.rstrip("/")
    domain = base.split("://")[-1].split("/")[0].split(":")[0] or "archive-portal.invalid"
    cal = Calendar()
    cal.add("prodid", "-//Archive Portal//ALMA release calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "ALMA releases")
    for group in groups:
        code = group.project.code
        for release in group.releases:
            mous = release.mous
            day = mous.release_date.date()
            event = Event()
            event.add("uid", f"release-{mous.uid.replace('://', '-').replace('/', '-')}@{domain}")
            event.add("dtstamp", now)
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
            event.add("sequence", moves.get(mous.uid, 0))
            event.add("summary", f"ALMA release: {code} ({mous.target_names or mous.uid})"[:200])
            event.add(
                "description",
                f"Member OUS {mous.uid} of {code} becomes public at "
                f"{mous.release_date:%Y-%m-%d %H:%M} UTC. Listed because: "
                f"{'; '.join(release.reasons)}.",
            )
            event.add("categories", [code])
            event.add("url", base + reverse("queries:mous", args=[mous.uid]))
            cal.add_component(event)
    return cal.to_ical()
