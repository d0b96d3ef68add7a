"""ALMA's archive through astroquery (TAP for ObsCore, DataLink for files).

``Alma.dataarchive_url`` is set to the configured archive so astroquery never goes looking for a
mirror on its own. Every call carries the configured timeout: astroquery builds its DataLink
service without the session that carries astroquery's own settings, so this client gives TAP
and DataLink one ``timeout_session`` of its own (pyvo's services accept a ``session``). pyvo's
and requests' errors are translated here into the portal's two archive errors.
"""

from __future__ import annotations

import logging

import numpy as np
import requests

from queries.archive.base import ArchiveClient, DataLinkEntry, timeout_session
from queries.archive.formats import plain
from queries.errors import ArchiveRejected, ArchiveUnavailable

log = logging.getLogger(__name__)


class AlmaArchiveClient(ArchiveClient):
    def __init__(self, archive_url: str, *, timeout: float = 60.0) -> None:
        import pyvo
        from astroquery.alma import AlmaClass

        self.archive_url = archive_url.rstrip("/") + "/"
        self.timeout = timeout
        self.session = timeout_session(timeout)
        self._alma = AlmaClass()
        self._alma.archive_url = self.archive_url.rstrip("/")
        self._alma.dataarchive_url = self.archive_url
        self._alma.TIMEOUT = timeout
        self._alma._session = self.session
        self._tap = pyvo.dal.TAPService(self._alma.tap_url, session=self.session)
        self._datalink = pyvo.dal.adhoc.DatalinkService(
            self._alma.datalink_url, session=self.session
        )
        # astroquery's own helpers (query_tap, get_data_info) use these: the same session.
        self._alma._tap = self._tap
        self._alma._datalink = self._datalink

    def query_obscore(self, adql: str, *, max_rows: int) -> list[dict[str, object]]:
        import pyvo

        try:
            result = self._tap.search(adql, language="ADQL", maxrec=max_rows)
            table = result.to_table()
        except pyvo.dal.DALQueryError as exc:
            raise ArchiveRejected(_reason(exc)) from None
        except pyvo.dal.DALServiceError as exc:
            status = getattr(getattr(exc, "cause", None), "response", None)
            code = getattr(status, "status_code", None) or getattr(exc, "code", None)
            if code is not None and 400 <= int(code) < 500:
                raise ArchiveRejected(_reason(exc)) from None
            raise ArchiveUnavailable(
                f"The archive could not be reached ({_reason(exc)})."
            ) from None
        except pyvo.dal.DALFormatError as exc:
            # pyvo reports time-outs and refused connections as format errors too.
            raise ArchiveUnavailable(
                f"The archive did not answer usably ({_reason(exc)})."
            ) from None
        except (requests.RequestException, OSError) as exc:
            raise ArchiveUnavailable(
                f"The archive could not be reached ({type(exc).__name__})."
            ) from None
        names = table.colnames
        rows = []
        for record in table:
            rows.append(
                {n: plain(record[n]) if not np.ma.is_masked(record[n]) else None for n in names}
            )
        return rows

    def datalink(self, uid: str) -> list[DataLinkEntry]:
        import pyvo

        try:
            table = self._datalink.run_sync(uid).to_table()
        except pyvo.dal.DALQueryError as exc:
            raise ArchiveRejected(_reason(exc)) from None
        except (
            pyvo.dal.DALServiceError,
            pyvo.dal.DALFormatError,
            requests.RequestException,
            OSError,
        ) as exc:
            raise ArchiveUnavailable(
                f"The archive's DataLink service could not be reached ({type(exc).__name__})."
            ) from None
        entries = []
        for record in table:

            def get(name, record=record):
                return plain(record[name]) if name in table.colnames else None

            length = get("content_length")
            readable = get("readable")
            entries.append(
                DataLinkEntry(
                    id=str(get("ID") or ""),
                    access_url=str(get("access_url") or ""),
                    service_def=str(get("service_def") or ""),
                    error_message=str(get("error_message") or ""),
                    semantics=str(get("semantics") or ""),
                    description=str(get("description") or ""),
                    content_type=str(get("content_type") or ""),
                    content_length=int(length) if length is not None else None,
                    readable=None if readable is None else str(readable).lower() in ("true", "1"),
                )
            )
        return entries


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 400 else text[:397] + "..."
