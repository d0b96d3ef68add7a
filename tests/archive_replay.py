"""A local stand-in for an ALMA archive that replays real responses from ``../shared/refdata``.

TAP (``/tap/sync``): a query naming project codes gets those projects' real ObsCore rows from
the sample's CSV (as a VOTable); a query with no code gets ``alma-shapes.xml`` verbatim.
Harvest paging: with ``obscore`` set (``load_obscore_union()``: the 417 real ALMA rows of
``refdata/obscore/ALL_full_rows_union.csv``), the harvester's ``SELECT TOP n * ... ORDER BY
lastModified, obs_id`` pages and its ``COUNT(*)`` are answered from that list, which a test may
change as the upstream archive changes.
DataLink (``/datalink/sync?ID=...``): the real ``alma-datalink.xml`` for uid://A001/X12a3/Xe9.
Modes let a test make the archive unavailable (503), reject queries (400 with a TAP error
document) or answer slowly: in ``slow`` mode every request (TAP, DataLink, files) waits
``slow_seconds`` before answering normally, or until the mode changes or the server stops, so a
test can hold a worker inside an archive call and let it go. Every request is recorded. Binds
127.0.0.1 only.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from archiveportal import votable

ROOT = Path(__file__).resolve().parents[1]
REFDATA = ROOT.parent / "shared" / "refdata"
SAMPLE_CSV = ROOT / "queries" / "sample_archive" / "alma_obscore_rows.csv"
DATALINK = {
    "uid://A001/X12a3/Xe9": ROOT
    / "queries"
    / "sample_archive"
    / "datalink"
    / "uid___A001_X12a3_Xe9.xml"
}
ERROR_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3" version="1.3">
<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">{message}</INFO></RESOURCE>
</VOTABLE>"""
ALMA_LOGIN = "alma_user:alma-pw"  # the replayed archive's one account
ALMA_COOKIE = "alma-session=replayed"
OBSCORE_UNION = REFDATA / "obscore" / "ALL_full_rows_union.csv"
_PAGE = re.compile(
    r"^SELECT TOP (\d+) \* FROM ivoa\.obscore(.*?) ORDER BY lastModified, obs_id$", re.I | re.S
)
_COUNT = re.compile(r"^SELECT COUNT\(\*\) AS n FROM ivoa\.obscore(.*)$", re.I | re.S)
_AFTER = re.compile(r"lastModified > '([^']+)' OR \(lastModified = '\1' AND obs_id > '(.*)'\)")
_SINCE = re.compile(r"lastModified >= '([^']+)'")
CODE = re.compile(r"\d{4}\.[0-9a-z]\.\d{5}\.[a-z]+", re.I)


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]


@dataclass
class ReplayArchive:
    url: str = ""
    mode: str = "normal"  # normal | unavailable | reject | slow
    reject_message: str = "Column 'bogus' does not exist in table ivoa.obscore"
    slow_seconds: float = 3.0
    requests: list[Recorded] = field(default_factory=list)
    obscore: list[dict[str, str | None]] | None = None
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)

    def set_mode(self, mode: str, *, slow_seconds: float | None = None) -> None:
        if slow_seconds is not None:
            self.slow_seconds = slow_seconds
        self.mode = mode
        # Requests held by an earlier slow mode answer now.
        self._wake.set()
        self._wake = threading.Event()

    def hold(self) -> None:
        """Wait as slow mode asks: ``slow_seconds``, or until the mode changes."""
        self._wake.wait(self.slow_seconds)

    @property
    def queries(self) -> list[str]:
        return [
            r.params.get("QUERY", "")
            for r in self.requests
            if r.path.endswith("/sync") and "QUERY" in r.params
        ]


def rows_votable(codes: set[str]) -> bytes:
    """The real CSV rows of ``codes`` as a TAP VOTable (every column text, as in the CSV)."""
    with SAMPLE_CSV.open(newline="") as handle:
        reader = csv.DictReader(handle)
        names = [n for n in reader.fieldnames if n and n != "source_file"]
        rows = [[r[n] or None for n in names] for r in reader if r["proposal_id"].lower() in codes]
    return votable.render(
        [votable.Field(n, "char") for n in names], rows, infos={"QUERY_STATUS": "OK"}
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().removeprefix("b").strip("'"))


def load_obscore_union() -> list[dict[str, str | None]]:
    """The real ALMA rows of the union CSV as a TAP service sends them (a CSV round trip's
    ``b'...'`` marks removed from lastModified; ``source_file`` is the union's, not ALMA's)."""
    with OBSCORE_UNION.open(newline="") as handle:
        rows = [
            {k: (v or None) for k, v in row.items() if k and k != "source_file"}
            for row in csv.DictReader(handle)
        ]
    for row in rows:
        row["lastModified"] = _instant(row["lastModified"]).isoformat(timespec="milliseconds")
    return rows


def obscore_page(rows: list[dict[str, str | None]], query: str) -> bytes | None:
    """The harvester's page or count query answered from ``rows``; None for any other query."""
    page, count = _PAGE.match(query.strip()), _COUNT.match(query.strip())
    if not (page or count):
        return None
    where = (page or count).group(2 if page else 1)
    ordered = sorted(rows, key=lambda r: (_instant(r["lastModified"]), r["obs_id"]))
    if after := _AFTER.search(where):
        key = (_instant(after.group(1)), after.group(2).replace("''", "'"))
        ordered = [r for r in ordered if (_instant(r["lastModified"]), r["obs_id"]) > key]
    elif since := _SINCE.search(where):
        ordered = [r for r in ordered if _instant(r["lastModified"]) >= _instant(since.group(1))]
    if count:
        return votable.render([votable.Field("n", "long")], [[len(ordered)]])
    names = list(rows[0]) if rows else ["obs_id", "lastModified"]
    chosen = ordered[: int(page.group(1))]
    return votable.render(
        [votable.Field(n, "char") for n in names],
        [[r.get(n) for n in names] for r in chosen],
        infos={"QUERY_STATUS": "OK"},
    )


def alma_file_bytes(name: str) -> bytes:
    """Deterministic content of a file the replayed archive serves at /dataPortal/<name>."""
    return hashlib.sha256(name.encode()).digest() * 512


def make_handler(state: ReplayArchive):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _params(self) -> dict[str, str]:
            parsed = urlparse(self.path)
            params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
            if self.command == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                params.update({k: v[-1] for k, v in parse_qs(body).items()})
            return {
                k.upper() if k.lower() in ("query", "id", "request", "lang") else k: v
                for k, v in params.items()
            }

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self):
            params = self._params()
            path = urlparse(self.path).path
            state.requests.append(Recorded(self.command, path, params))
            if state.mode == "unavailable":
                return self._send(503, b"Service Unavailable", "text/plain")
            if state.mode == "slow":
                state.hold()
            if path.endswith("/tap/sync"):
                if state.mode == "reject":
                    doc = ERROR_DOC.format(message=state.reject_message).encode()
                    return self._send(400, doc, "application/x-votable+xml")
                query = params.get("QUERY", "")
                paged = None if state.obscore is None else obscore_page(state.obscore, query)
                if paged is not None:
                    return self._send(200, paged, "application/x-votable+xml")
                codes = {c.lower() for c in CODE.findall(query)}
                if codes:
                    body = rows_votable(codes)
                else:
                    body = (REFDATA / "astroquery" / "alma-shapes.xml").read_bytes()
                return self._send(200, body, "application/x-votable+xml")
            if path.endswith("/datalink/sync"):
                source = DATALINK.get(params.get("ID", ""))
                if source is None:
                    doc = ERROR_DOC.format(message="NotFoundFault: unknown ID").encode()
                    return self._send(200, doc, "application/x-votable+xml")
                return self._send(200, source.read_bytes(), "application/x-votable+xml")
            if path == "/dataPortal/api/login":
                expected = base64.b64encode(ALMA_LOGIN.encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._send(401, b"bad credentials", "text/plain")
                self.send_response(200)
                self.send_header("Set-Cookie", f"{ALMA_COOKIE}; Path=/")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                return None
            if path.startswith("/dataPortal/"):
                name = path.rsplit("/", 1)[-1]
                if "secret" in name and ALMA_COOKIE not in (self.headers.get("Cookie") or ""):
                    return self._send(403, b"log in first", "text/plain")
                return self._send(200, alma_file_bytes(name), "application/x-tar")
            return self._send(404, b"not found", "text/plain")

        do_GET = _handle
        do_POST = _handle

    return Handler


class ReplayServer:
    def __init__(self) -> None:
        self.state = ReplayArchive()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.state.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ReplayArchive:
        self.thread.start()
        return self.state

    def __exit__(self, *exc) -> None:
        self.state.set_mode("normal")
        self.httpd.shutdown()
        self.httpd.server_close()
