"""Serving a local file with HTTP range requests, streamed, with exact sizes. No policy here:
the caller has already asked ``downloads.access``."""

from __future__ import annotations

import re
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date

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


def file_response(request: HttpRequest, path: Path, *, filename: str) -> HttpResponse:
    stat = path.stat()
    size = stat.st_size
    header = request.headers.get("Range", "").strip()
    common = {
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(stat.st_mtime),
        "ETag": f'"{stat.st_mtime_ns:x}-{size:x}"',
    }
    disposition = f'attachment; filename="{filename}"'
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
        body = [] if request.method == "HEAD" else _stream(path, start, length)
        response = StreamingHttpResponse(body, status=206, content_type="application/octet-stream")
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(length)
    elif request.method == "HEAD":
        response = HttpResponse(content_type="application/octet-stream")
        response["Content-Length"] = str(size)
    else:
        response = FileResponse(path.open("rb"), content_type="application/octet-stream")
        response["Content-Length"] = str(size)
    for key, value in common.items():
        response[key] = value
    response["Content-Disposition"] = disposition
    return response
