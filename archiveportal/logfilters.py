"""Logging filters that keep file names out of the logs.

Django logs every 4xx and 5xx with its path (``django.request``: ``Forbidden: /dataPortal/…``,
``Not Found: …``), CSRF refusals with theirs (``django.security.csrf``) and runserver every request
line (``django.server``); a path under ``/dataPortal/`` is a file name, possibly a proprietary one,
so those paths are cut down to the prefix before any handler writes the record.

Where the filter sits matters (``settings.LOGGING``): on the loggers that log paths, so that the
record is rewritten once, before it reaches any handler, including one added later or Django's
own default handlers; and on every configured handler, for records from any other logger. A record
that carries the request (``AdminEmailHandler`` prints its full URL and headers) loses it when
its path names a file.

Libraries add handlers of their own (astropy a stderr one) and code may add more later, so
``install()`` (run from the app's ``ready()``) also puts the filter on every handler that exists by
then and wraps the log-record factory, which rewrites the message of every record as it is
created, whichever logger and handler it goes to.
"""

from __future__ import annotations

import logging
import re

_FILE_PATH = re.compile(r"/dataPortal/[^\s\"'?#]+")
PLACEHOLDER = "/dataPortal/<file>"


def hide_file_names(text: str) -> str:
    """``text`` with every ``/dataPortal/<name>`` cut down to the prefix."""
    return _FILE_PATH.sub(PLACEHOLDER, text)


_installed = False


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: leave it to the handler's own error path
        return
    if "/dataPortal/" in message:
        record.msg = hide_file_names(message)
        record.args = ()


def install() -> None:
    """Scrub every record at creation and filter every handler present now (idempotent)."""
    global _installed
    if not _installed:
        make_record = logging.getLogRecordFactory()

        def scrubbing_factory(*args, **kwargs) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(scrubbing_factory)
        _installed = True
    for name in ["", *logging.root.manager.loggerDict]:
        logger = logging.getLogger(name)
        if not isinstance(logger, logging.Logger):
            continue
        for handler in logger.handlers:
            if not any(isinstance(f, HideFileNames) for f in handler.filters):
                handler.addFilter(HideFileNames())


class HideFileNames(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        request = getattr(record, "request", None)
        if "/dataPortal/" in str(getattr(request, "path", "") or ""):
            # The admin email's report prints the request's URL, GET and headers.
            record.request = None
        return True
