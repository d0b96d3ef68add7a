"""Stored upper-case copies of the project texts a case-insensitive search compares.

A text search compares ``UPPER(column) LIKE UPPER(pattern)`` (Django's ``icontains`` and its
kin on PostgreSQL), and the trigram index on ``UPPER(column)`` finds the candidates; but the
index is lossy, so PostgreSQL rechecks each candidate row, upper-casing its text again. For
"protostellar outflows" on the 1M-row bench mirror that is 1,104 abstracts of ~370 characters:
4.4 of the project match's ~6 ms (upper-casing is per character through the locale's wide
characters; the comparison itself is a byte scan). A copy stored with the row
(``UpperCopy``, a generated column PostgreSQL and SQLite keep themselves, however the row is
written) is compared as it is, the pattern still upper-cased by the database, so the rows
found are exactly those of ``UPPER(column) LIKE UPPER(pattern)``; the trigram index is on the
copy (migration 0018).

On SQLite the copy holds SQLite's ``UPPER`` (ASCII letters) and the lookups compile as
Django's own (``LIKE``, case-insensitive for ASCII letters only): over a copy upper-cased in
ASCII they find what they found over the original column.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Lookup
from django.db.models.functions import Upper
from django.db.models.lookups import IContains, IEndsWith, IExact, IStartsWith


class UpperText(models.TextField):
    """What an ``UpperCopy`` holds: text already upper-cased, whose case-insensitive lookups
    compare it as it is (a query's column of a generated field has the output field's
    lookups, not the generated field's)."""


class UpperCopy(models.GeneratedField):
    """``UPPER(source)``, stored (``GENERATED ALWAYS AS ... STORED``): never written by the
    portal; its case-insensitive lookups compare it without upper-casing it again."""

    def __init__(self, source: str | None = None, **kwargs) -> None:
        self.source = source
        if source is not None:
            kwargs.setdefault("expression", Upper(source))
            kwargs.setdefault("output_field", UpperText())
            kwargs.setdefault("db_persist", True)
        super().__init__(**kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key in ("expression", "output_field", "db_persist"):
            kwargs.pop(key, None)
        return name, path, [self.source, *args], kwargs


class _Stored:
    """A case-insensitive lookup over an ``UpperText``: on PostgreSQL the column as it is
    (Django would write ``UPPER(column::text)``); the pattern side is Django's,
    ``UPPER(%s)``. Elsewhere Django's lookup unchanged."""

    def process_lhs(self, compiler, connection, lhs=None):
        if connection.vendor != "postgresql":
            return super().process_lhs(compiler, connection, lhs)
        return Lookup.process_lhs(self, compiler, connection, lhs)


@UpperText.register_lookup
class StoredIContains(_Stored, IContains):
    pass


@UpperText.register_lookup
class StoredIStartsWith(_Stored, IStartsWith):
    pass


@UpperText.register_lookup
class StoredIEndsWith(_Stored, IEndsWith):
    pass


@UpperText.register_lookup
class StoredIExact(_Stored, IExact):
    pass


def is_upper_copy(expression) -> bool:
    """Whether ``expression`` (a lookup's resolved left side) holds upper-cased text."""
    return isinstance(getattr(expression, "output_field", None), UpperText)


def copies(model: type[models.Model]) -> dict[str, str]:
    """{column searched: the field holding its upper-case copy} for ``model``."""
    return {
        f.source: f.name for f in model._meta.get_fields() if isinstance(f, UpperCopy) and f.source
    }
