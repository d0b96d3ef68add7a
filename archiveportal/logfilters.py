"""Logging filters that keep file names out of the logs.

Django logs every 4xx with its path (``django.request``) and runserver logs every request
(``django.server``); a path under ``/dataPortal/`` is a file name, possibly a proprietary one, so
those paths are cut down to the prefix before the record is written.
"""

from __future__ import annotations

import logging
import re

_FILE_PATH = re.compile(r"/dataPortal/[^\s\"?]+")


class HideFileNames(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/dataPortal/" in message:
            record.msg = _FILE_PATH.sub("/dataPortal/<file>", message)
            record.args = ()
        return True
