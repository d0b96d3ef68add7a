"""Paging the upstream ``ivoa.obscore`` by (lastModified, obs_id), through the one archive client.

The order is total (``obs_id`` breaks ties between rows modified at the same instant), so a page
is "the next N rows strictly after the cursor" and a harvest that stops anywhere can continue
from the last row it applied without skipping or repeating a row. Only ADQL every TAP service
speaks is used (TOP, ORDER BY, OR of comparisons, ISO timestamp literals), so ALMA and another
Archive Portal are asked the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from queries.archive.client import ArchiveClient
from queries.archive.loader import parse_datetime

TABLE = "ivoa.obscore"


@dataclass(frozen=True)
class Cursor:
    """A position in the upstream order: after the row (last_modified, obs_id)."""

    last_modified: datetime | None
    obs_id: str = ""


def client_for(archive_url: str) -> ArchiveClient:
    """The archive client for ``archive_url``, carrying ``ARCHIVE_TOKEN`` when one is set."""
    return ArchiveClient(
        archive_url, timeout=settings.ARCHIVE_TIMEOUT, token=settings.ARCHIVE_TOKEN
    )


def adql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def timestamp_literal(moment: datetime) -> str:
    """ISO 8601 in UTC without an offset, as ALMA writes lastModified: milliseconds unless the
    instant has finer digits (an equality test must meet the upstream's exact value)."""
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return adql_literal(moment.isoformat(timespec=spec))


def where_clause(*, after: Cursor | None, since: datetime | None) -> str:
    """Rows strictly after ``after`` in the upstream order, else from ``since`` on."""
    if after is not None and after.last_modified is not None:
        moment = timestamp_literal(after.last_modified)
        return (
            f" WHERE lastModified > {moment} OR "
            f"(lastModified = {moment} AND obs_id > {adql_literal(after.obs_id)})"
        )
    if since is not None:
        return f" WHERE lastModified >= {timestamp_literal(since)}"
    return ""


def page_query(*, after: Cursor | None, since: datetime | None, size: int) -> str:
    """The ADQL of one page: the ``size`` rows following ``after`` (or from ``since``)."""
    where = where_clause(after=after, since=since)
    return f"SELECT TOP {int(size)} * FROM {TABLE}{where} ORDER BY lastModified, obs_id"


def count_query(*, after: Cursor | None, since: datetime | None) -> str:
    return f"SELECT COUNT(*) AS n FROM {TABLE}{where_clause(after=after, since=since)}"


def fetch_page(
    client: ArchiveClient, *, after: Cursor | None, since: datetime | None, size: int
) -> list[dict[str, object]]:
    """One page of upstream rows as the archive sent them (ArchiveUnavailable/Rejected)."""
    return client.query_obscore(page_query(after=after, since=since, size=size), max_rows=size)


def row_position(row: dict[str, object]) -> Cursor:
    """Where ``row`` sits in the upstream order (its lastModified parsed as the loader does)."""
    raw = row.get("lastModified")
    moment = raw if isinstance(raw, datetime) else (parse_datetime(str(raw)) if raw else None)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Cursor(moment, str(row.get("obs_id") or ""))
