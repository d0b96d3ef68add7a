"""The portal's clock: the one place that says what time it is for the proprietary rule.

Production reads the real time on every call. Tests freeze it with ``frozen(instant)`` to put a
release date exactly one second ahead or behind, without patching the interpreter's clocks
(patching C-level time functions crashed the interpreter in this test suite).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else timezone.now()


@contextmanager
def frozen(instant: datetime) -> Iterator[datetime]:
    global _frozen
    previous = _frozen
    _frozen = instant
    try:
        yield instant
    finally:
        _frozen = previous
