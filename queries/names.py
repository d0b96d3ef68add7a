"""Source-name normalisation shared by the loader and the search.

ALMA stores target names as observers typed them (``NGC_1068``, ``NGC1068``, ``ngc 1068``), so
both sides compare a *key*: lower case without spaces, underscores or dashes.
"""

from __future__ import annotations

import re

_DROP = re.compile(r"[\s_\-]+")


def name_key(name: str) -> str:
    """``'NGC_1068'``, ``'ngc 1068'`` and ``'NGC-1068'`` all become ``'ngc1068'``."""
    return _DROP.sub("", name or "").lower()
