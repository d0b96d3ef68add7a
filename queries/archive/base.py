"""The archive-client base: what the portal asks of an ALMA-compatible archive.

Clients raise only ``ArchiveUnavailable`` (transient: connection refused, timeouts, 5xx; the
Celery task retries) or ``ArchiveRejected`` (the service answered with an error: the user reads
its reason). Nothing outside ``queries/archive/`` sees astroquery, pyvo or requests errors.

Every HTTP call to an archive goes through one ``requests.Session`` built by ``timeout_session``,
whose adapters put the configured timeout on any request that does not set its own: a slow
archive then fails the call (``ArchiveUnavailable``) instead of hanging a worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter


class TimeoutAdapter(HTTPAdapter):
    """An adapter that gives every request a timeout unless the caller chose one."""

    def __init__(self, *, timeout: float, **kwargs) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def timeout_session(timeout: float) -> requests.Session:
    """A session whose every request times out after ``timeout`` seconds (connect and read)."""
    session = requests.Session()
    adapter = TimeoutAdapter(timeout=timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class DataLinkEntry:
    id: str
    access_url: str
    service_def: str
    error_message: str
    semantics: str
    description: str
    content_type: str
    content_length: int | None
    readable: bool | None


class ArchiveClient(ABC):
    @abstractmethod
    def query_obscore(self, adql: str, *, max_rows: int) -> list[dict[str, object]]:
        """ObsCore rows as plain dicts keyed by column name, values as the archive sent them."""

    @abstractmethod
    def datalink(self, uid: str) -> list[DataLinkEntry]:
        """The deliverables DataLink lists for a member OUS uid."""


def get_client() -> ArchiveClient:
    from django.conf import settings

    from queries.archive.alma import AlmaArchiveClient

    return AlmaArchiveClient(settings.ARCHIVE_URL, timeout=settings.ARCHIVE_TIMEOUT)
