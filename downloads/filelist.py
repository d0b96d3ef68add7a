"""A prepared request's file list (one URL per line, for any download manager) and manifest."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from downloads.script import ScriptFile


def render_url_list(files: Sequence[ScriptFile]) -> str:
    return "".join(f"{f.url}\n" for f in files)


def render_manifest(files: Sequence[ScriptFile]) -> str:
    """Tab-separated: name, path in ALMA's tree, size in bytes, sha256, URL."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["name", "relative_path", "size_bytes", "sha256", "url"])
    for f in files:
        writer.writerow(
            [
                f.relative_path.rsplit("/", 1)[-1],
                f.relative_path,
                "" if f.size is None else f.size,
                f.sha256 or "",
                f.url,
            ]
        )
    return buffer.getvalue()
