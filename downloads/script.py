"""Renders ``downloadRequest<ID>.sh``: a bash script that fetches a prepared request safely.

The script (``script_templates/download_request.sh.in``) runs with bash 3.2+ and curl (or wget
for files that need no credential) on Linux and macOS. What it keeps, and why:

* No secret on disk or on a command line: the token and ALMA's session cookie reach curl as
  config lines through a pipe (``curl -K -``); the cookie stays in a shell variable. A trap
  removes the scratch folder and ends every child process on any exit or signal.
* Speed close to plain parallel curl: small files arrive in one ``curl --parallel`` process
  (kept-alive connections, per-transfer results via ``--write-out``) and are hashed together
  afterwards from the page cache; large files are hashed while they arrive (``curl | tee |
  sha256``), so their bytes are read once.
* Only what can succeed later is retried (5xx, 408/429, time-outs, resets), with growing pauses
  and none after the last attempt; a refusal (401, 403, 404, 410, an unwritable folder) stops at
  once with the server's own reason and exit status 3.
* It runs as ``bash script``, ``bash < script`` and ``curl URL | bash``: everything is inside
  ``main``, called on the last line.

The file table is a quoted here-document, so nothing in it is ever expanded by the shell;
every path and URL is checked against a strict character set before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

TEMPLATE = Path(__file__).resolve().parent / "script_templates" / "download_request.sh.in"
_SAFE = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]+$")


@dataclass(frozen=True)
class ScriptFile:
    url: str
    relative_path: str
    size: int | None
    sha256: str | None
    proprietary: bool
    # Send the member's token with this file: true for the portal's own lab cache, never for
    # another host (a token must not leave for a third party).
    needs_token: bool = False
    # A proprietary file served by the ALMA archive itself: the script logs in to ALMA.
    alma_login: bool = False


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _checked(text: str, what: str) -> str:
    if not _SAFE.match(text) or ".." in text.split("/"):
        raise ValueError(f"unsafe {what} for a download script: {text!r}")
    return text


def render_script(
    *,
    request_id: str,
    files: Sequence[ScriptFile],
    portal_url: str,
    denied_notes: Sequence[str] = (),
    generated: datetime | None = None,
) -> str:
    rows = []
    for index, f in enumerate(files, start=1):
        sha = f.sha256 if f.sha256 and re.fullmatch(r"[0-9a-f]{64}", f.sha256) else "-"
        rows.append(
            "\t".join(
                [
                    str(index),
                    str(f.size if f.size is not None else -1),
                    sha,
                    "2" if f.alma_login else "1" if f.needs_token else "0",
                    _checked(f.relative_path, "path").lstrip("/"),
                    _checked(f.url, "URL"),
                ]
            )
        )
    notes = "".join(f"# Not included: {_comment(n)}\n" for n in denied_notes)
    alma = next((urlparse(f.url) for f in files if f.alma_login), None)
    total = sum(f.size or 0 for f in files)
    replacements = {
        "@@REQUEST_ID@@": re.sub(r"[^A-Za-z0-9-]", "", request_id),
        "@@GENERATED@@": (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "@@PORTAL_URL@@": _comment(portal_url),
        "@@PORTAL_HOST@@": re.sub(r"[^A-Za-z0-9.:-]", "", urlparse(portal_url).hostname or ""),
        "@@ALMA_HOST@@": re.sub(r"[^A-Za-z0-9.:-]", "", alma.hostname or "") if alma else "",
        "@@ALMA_LOGIN_URL@@": _checked(f"{alma.scheme}://{alma.netloc}/dataPortal/api/login", "URL")
        if alma
        else "",
        "@@FILE_COUNT@@": str(len(files)),
        "@@TOTAL_HUMAN@@": human_size(total),
        "@@DENIED_NOTES@@\n": notes,
        "@@FILE_TABLE@@": "\n".join(rows),
    }
    text = TEMPLATE.read_text()
    for key, value in replacements.items():
        text = text.replace(key, value)
    return text


def _comment(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text)
