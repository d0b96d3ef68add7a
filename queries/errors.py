"""The queries app's error vocabulary.

Input errors carry the field, the value and the accepted syntax so a form can show the message
on the field; archive errors say whether retrying can help (``ArchiveUnavailable``) or the user
must change something (``ArchiveRejected``). Only ``queries/archive/client.py`` sees the
exceptions of pyvo and requests, and it turns them into these.
"""

from __future__ import annotations

from pathlib import Path


class QueryInputError(ValueError):
    """A search field's value is not in the accepted syntax."""

    def __init__(
        self, field: str, value: str, message: str, accepted_syntax: str = "", *, label: str = ""
    ) -> None:
        self.field = field
        self.value = value
        self.message = message
        self.accepted_syntax = accepted_syntax
        self.label = label or field
        super().__init__(str(self))

    def __str__(self) -> str:
        # The value is echoed into pages: keep it short and printable whatever was typed.
        shown = str(self.value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        shown = shown.encode("utf-8", "replace").decode("utf-8")
        shown = "".join(ch if ch.isprintable() else "\ufffd" for ch in shown)
        text = f"{self.label}: '{shown}' {self.message}"
        if self.accepted_syntax:
            text += f" Accepted: {self.accepted_syntax}"
        return text


class QueryInputErrors(ValueError):
    """Several fields wrong at once: ``errors`` maps field name -> QueryInputError."""

    def __init__(self, errors: dict[str, QueryInputError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors.values()))


class NameNotResolved(QueryInputError):
    """A source name the resolver does not know (or could not be asked)."""


class ArchiveError(Exception):
    """Base of the errors an archive client raises."""


class ArchiveUnavailable(ArchiveError):
    """The archive could not be reached or failed on its side: transient, retry later."""


class ArchiveRejected(ArchiveError):
    """The archive answered and refused the query; ``str()`` is its reason, for the user."""


class LoadError(ValueError):
    """A file that cannot be loaded into the mirror, located as precisely as possible."""

    def __init__(self, path: Path | str, row: int | None, column: str | None, message: str) -> None:
        self.path = str(path)
        self.row = row
        self.column = column
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path
        if self.row is not None:
            where += f", line/row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"
