"""Errors of target lists: a whole upload refused (empty, not text, too long)."""

from __future__ import annotations


class TargetFileError(ValueError):
    """The upload as a whole cannot be used; the message says why and what is accepted."""
