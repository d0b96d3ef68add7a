"""Functions ADQL needs that SQLite lacks or does differently, registered on each connection.

SQLite's LIKE ignores case for ASCII letters where ADQL's does not, and it has no TRUNCATE or
RAND; Django registers the rest of the maths (SIN, POWER, LOG, ...) itself.
"""

from __future__ import annotations

import math
import random
import re
from functools import lru_cache


@lru_cache(maxsize=256)
def _pattern(like: str, insensitive: bool) -> re.Pattern[str]:
    parts = []
    for char in like:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if insensitive else 0))


def adql_like(value, pattern) -> int | None:
    if value is None or pattern is None:
        return None
    return int(_pattern(str(pattern), False).fullmatch(str(value)) is not None)


def adql_ilike(value, pattern) -> int | None:
    if value is None or pattern is None:
        return None
    return int(_pattern(str(pattern), True).fullmatch(str(value)) is not None)


def adql_truncate(value, digits) -> float | None:
    if value is None:
        return None
    factor = 10 ** int(digits or 0)
    return math.trunc(value * factor) / factor


def register(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("ADQL_LIKE", 2, adql_like, deterministic=True)
    raw.create_function("ADQL_ILIKE", 2, adql_ilike, deterministic=True)
    raw.create_function("ADQL_TRUNCATE", 2, adql_truncate, deterministic=True)
    raw.create_function("ADQL_RAND", 0, random.random)
