"""A one-line progress bar for the harvest command (no dependency: a terminal line redrawn in
place, or one line per page when the output is not a terminal, e.g. a log file)."""

from __future__ import annotations

import time
from typing import TextIO

from harvest.services import Progress

WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.closed = False
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, progress: Progress) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = progress.rows_seen / elapsed
        if progress.total:
            share = min(progress.rows_seen / progress.total, 1.0)
            filled = int(share * WIDTH)
            bar = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} "
            of = f"/{progress.total}"
        else:
            bar, of = "", ""
        line = (
            f"{bar}{progress.rows_seen}{of} rows, {progress.new} new, {progress.changed} changed,"
            f" {rate:,.0f} rows/s"
        )
        if self.interactive:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive and not self.closed:
            self.stream.write("\n")
            self.stream.flush()
        self.closed = True
