"""The client of an ALMA-compatible archive: ObsCore over TAP, files over DataLink.

Any archive that speaks ALMA's TAP (``<url>/tap``) and DataLink (``<url>/datalink/sync``) is
the same client at another URL (ALMA itself, or another Archive Portal), so there is one class
and no base class. It talks to pyvo directly: astroquery's ``Alma`` would only add a mirror
lookup of its own and a DataLink service built without our session.

The client owns one ``requests.Session`` whose adapters put the configured timeout on every
request that does not set its own, and hands it to pyvo's TAP and DataLink services: a slow
archive fails the call instead of hanging a worker. pyvo's and requests' errors never leave
this module: they become ``ArchiveUnavailable`` (transient: refused, timed out, 5xx; the task
retries) or ``ArchiveRejected`` (the service answered with an error: the user reads its reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyvo
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from queries.archive.formats import plain
from queries.errors import ArchiveRejected, ArchiveUnavailable


class TimeoutAdapter(HTTPAdapter):
    """An adapter that gives every request a timeout unless the caller chose one."""

    def __init__(self, *, timeout: float, **kwargs) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


@dataclass(frozen=True)
class DataLinkEntry:
    """One row of a DataLink response, as much of it as the file catalogue stores."""

    access_url: str
    service_def: str
    error_message: str
    semantics: str
    content_type: str
    content_length: int | None


_DATALINK_TEXT = ("access_url", "service_def", "error_message", "semantics", "content_type")


class ArchiveClient:
    def __init__(self, archive_url: str, *, timeout: float = 60.0, token: str = "") -> None:
        base = archive_url.rstrip("/")
        self.session = requests.Session()
        if token:
            # An upstream that wants a token (another Archive Portal) reads it here; the session
            # never logs headers, and the token never leaves this object.
            self.session.headers["Authorization"] = f"Token {token}"
        adapter = TimeoutAdapter(timeout=timeout)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.tap = pyvo.dal.TAPService(f"{base}/tap", session=self.session)
        self.datalink_service = pyvo.dal.adhoc.DatalinkService(
            f"{base}/datalink/sync", session=self.session
        )

    def query_obscore(self, adql: str, *, max_rows: int) -> list[dict[str, object]]:
        """ObsCore rows as plain dicts keyed by column name, values as the archive sent them."""
        with _translated("TAP service"):
            table = self.tap.search(adql, language="ADQL", maxrec=max_rows).to_table()
        return _rows(table)

    def datalink(self, uid: str) -> list[DataLinkEntry]:
        """The deliverables DataLink lists for a member OUS uid."""
        with _translated("DataLink service"):
            table = self.datalink_service.run_sync(uid).to_table()
        entries = []
        for row in _rows(table):
            length = row.get("content_length")
            text = {name: str(row.get(name) or "") for name in _DATALINK_TEXT}
            entries.append(DataLinkEntry(**text, content_length=length and int(length)))
        return entries


def get_client() -> ArchiveClient:
    """The configured archive's client (``ARCHIVE_URL``, ``ARCHIVE_TIMEOUT``)."""
    return ArchiveClient(settings.ARCHIVE_URL, timeout=settings.ARCHIVE_TIMEOUT)


@contextmanager
def _translated(service: str) -> Iterator[None]:
    """pyvo's and requests' errors inside the block, as the portal's two archive errors."""
    try:
        yield
    except pyvo.dal.DALQueryError as exc:
        raise ArchiveRejected(_reason(exc)) from None
    except pyvo.dal.DALServiceError as exc:
        response = getattr(getattr(exc, "cause", None), "response", None)
        code = getattr(response, "status_code", None) or getattr(exc, "code", None)
        if code is not None and 400 <= int(code) < 500:
            raise ArchiveRejected(_reason(exc)) from None
        raise ArchiveUnavailable(
            f"The archive's {service} could not be reached ({_reason(exc)})."
        ) from None
    except (pyvo.dal.DALFormatError, requests.RequestException, OSError) as exc:
        # pyvo reports time-outs and refused connections as format errors too.
        raise ArchiveUnavailable(
            f"The archive's {service} did not answer usably ({type(exc).__name__})."
        ) from None


def _rows(table) -> list[dict[str, object]]:
    return [{n: plain(record[n]) for n in table.colnames} for record in table]


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 400 else text[:397] + "..."
