"""Serving a local file, or one member of a local tar (a byte range of it: see
``downloads.tar_contents``), with HTTP range requests, streamed, with exact sizes. No access
policy here: the caller has already asked ``downloads.access``.

Two invariants this module keeps for ``/dataPortal/``:

* Only files inside ``LAB_DATA_ROOT`` are served: a name is resolved (symbolic links followed,
  ``..`` collapsed) and refused unless the real path is a regular file under the real root, so a
  symlink planted in the lab cache cannot hand out ``/etc/passwd`` or another user's data.
* A name that does not exist and a name the caller may not download get the same answer
  (``not_found``: same status, body and headers), so nobody can probe which proprietary names
  exist; the same holds for a tar's members (``/dataPortal/<tar>/<member>``).

Who sends the bytes is ``DOWNLOADS_FILE_SERVING``: ``django`` streams them here (embedded mode,
tests); ``x-accel`` answers with an empty body and ``X-Accel-Redirect`` to the internal
location ``DOWNLOADS_ACCEL_PREFIX`` of nginx (``deploy/nginx/portal.conf.template``), which
sends the file with Range, ETag and Last-Modified, so a large download does not hold a web
worker; ``x-sendfile`` does the same with the file's path (Apache's mod_xsendfile, lighttpd).
The header is only ever written by ``file_response``, after the caller's access decision, so
nobody who may not download a file learns its place on disk. A tar member stays served here
whatever the mode: the front server would apply the client's Range to the whole tar, not to
the member's bytes inside it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date

# One body for "no such file" and "not yours": they must be indistinguishable.
NOT_FOUND_MESSAGE = (
    "No file of that name that this account may download. Proprietary files need the PI's "
    "delegation; the request page lists what you may download."
)


def not_found() -> HttpResponse:
    """The single answer for an unknown name and for a file the caller may not download."""
    return HttpResponse(NOT_FOUND_MESSAGE, status=404, content_type="text/plain; charset=utf-8")


def lab_file(name: str, *, root: Path | None = None) -> Path | None:
    """The real path of ``name`` in the lab cache, or None when it is absent or escapes it.

    The cache is flat (files by name), so a name with a separator, a NUL or a dot-only name is
    refused outright; the rest is resolved and must stay under the resolved root.
    """
    if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        return None
    base = Path(root or settings.LAB_DATA_ROOT)
    try:
        real_root = base.resolve(strict=True)
        real = (base / name).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, an unreadable component
        return None
    if not real.is_relative_to(real_root) or real == real_root or not real.is_file():
        return None
    return real


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _stream(path: Path, start: int, length: int):
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


_TOKEN_NAME = re.compile(r"^[A-Za-z0-9._+-]+$")


def content_disposition(filename: str) -> str:
    """``attachment; filename=...``, unquoted when the name allows it, as ALMA sends it:
    astroquery's ``download_files`` takes everything after ``filename=`` as the name, so quotes
    would end up in the saved file's name."""
    if _TOKEN_NAME.match(filename):
        return f"attachment; filename={filename}"
    escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
    return f'attachment; filename="{escaped}"'


def front_server_response(path: Path, *, filename: str, mode: str) -> HttpResponse:
    """An empty answer telling the front server to send ``path`` (a ``lab_file`` result):
    nginx's internal location by the path under the lab cache, or the path for X-Sendfile."""
    response = HttpResponse(content_type="application/octet-stream")
    if mode == "x-accel":
        inside = path.relative_to(Path(settings.LAB_DATA_ROOT).resolve())
        prefix = settings.DOWNLOADS_ACCEL_PREFIX.rstrip("/")
        response["X-Accel-Redirect"] = f"{prefix}/{quote(inside.as_posix())}"
    else:
        response["X-Sendfile"] = str(path)
    response["Content-Disposition"] = content_disposition(filename)
    return response


def file_response(
    request: HttpRequest,
    path: Path,
    *,
    filename: str,
    offset: int = 0,
    size: int | None = None,
) -> HttpResponse:
    """``path`` (or its ``size`` bytes from ``offset``: one member of a tar) with Range support;
    a whole file through the front server when ``DOWNLOADS_FILE_SERVING`` says so."""
    mode = settings.DOWNLOADS_FILE_SERVING
    if size is None and mode != "django":
        return front_server_response(path, filename=filename, mode=mode)
    stat = path.stat()
    whole = size is None
    size = stat.st_size if size is None else size
    header = request.headers.get("Range", "").strip()
    common = {
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(stat.st_mtime),
        "ETag": f'"{stat.st_mtime_ns:x}-{size:x}"'
        if whole
        else f'"{stat.st_mtime_ns:x}-{offset:x}-{size:x}"',
    }
    if header:
        match = _RANGE.match(header)
        if not match or (not match.group(1) and not match.group(2)):
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:
            start = max(0, size - int(last))
            end = size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        length = end - start + 1
        body = [] if request.method == "HEAD" else _stream(path, offset + start, length)
        response = StreamingHttpResponse(body, status=206, content_type="application/octet-stream")
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(length)
    elif request.method == "HEAD":
        response = HttpResponse(content_type="application/octet-stream")
        response["Content-Length"] = str(size)
    elif whole:
        response = FileResponse(path.open("rb"), content_type="application/octet-stream")
        response["Content-Length"] = str(size)
    else:
        response = StreamingHttpResponse(
            _stream(path, offset, size), content_type="application/octet-stream"
        )
        response["Content-Length"] = str(size)
    for key, value in common.items():
        response[key] = value
    response["Content-Disposition"] = content_disposition(filename)
    return response
