"""Statements the ORM compiles once per process and runs with each page's values.

A page's statements for its rows, its projects and the member's columns differ from page to
page only in their values (the page's ids, the member's id, the time), yet compiling the
queryset again costs 0.2-0.5 ms of CPU each time, a noticeable part of a page that should cost
little more than its SQL (issue 13). A ``Compiled`` statement is the queryset built once with
markers where the values go (a list through ``selectors._in``: ``column = ANY(%s)``, the list
one parameter; or a datetime compared as is); each run puts the real values in the markers'
places and hands the rows through Django's own converters, so they are what ``.values()``
would have returned.

PostgreSQL only: elsewhere ``IN`` expands a list into one placeholder per item, so the SQL
depends on the values; ``Compiled.rows`` then evaluates the queryset itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connection
from django.db.models import QuerySet

# Never real values: the parameters they mark are found by equality in the compiled statement.
LIST_MARKERS = ([-987_654_321], [-987_654_322])
TIME_MARKER = datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)


class Compiled:
    """``build(*markers)`` (a ``.values()`` queryset) compiled on first use, then run with each
    call's values in the markers' places. A list marker takes a list (``selectors._in``), the
    time marker a datetime; each marker must reach the statement exactly once."""

    def __init__(self, build: Callable[..., QuerySet], *markers: object) -> None:
        self._build = build
        self._markers = markers or (LIST_MARKERS[0],)
        self._statement: tuple[str, tuple, list[int], list[str], list] | None = None

    def _compile(self) -> tuple[str, tuple, list[int], list[str], list]:
        if self._statement is None:
            queryset = self._build(*self._markers)
            query = queryset.query
            compiler = query.get_compiler(using=queryset.db)
            sql, params = compiler.as_sql()
            slots = []
            for marker in self._markers:
                (slot,) = [i for i, p in enumerate(params) if p == marker]
                slots.append(slot)
            names = [*query.extra_select, *query.values_select, *query.annotation_select]
            converters = compiler.get_converters([s[0] for s in compiler.select])
            found = [(i, fs, expr) for i, (fs, expr) in converters.items()]
            self._statement = (sql, tuple(params), slots, names, found)
        return self._statement

    def rows(self, *values: object) -> list[dict]:
        """The rows of ``build(*values)`` as dicts, as ``.values()`` gives them."""
        if connection.vendor != "postgresql":
            return list(self._build(*values))
        sql, params, slots, names, converters = self._compile()
        bound = list(params)
        for slot, value in zip(slots, values, strict=True):
            # lists sorted as selectors._in passes them
            bound[slot] = (
                id_array(sorted(value)) if isinstance(value, list | tuple | set) else value
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            found = cursor.fetchall()
        if converters:
            found = [list(row) for row in found]
            for row in found:
                for i, functions, expression in converters:
                    for convert in functions:
                        row[i] = convert(row[i], expression, connection)
        return [dict(zip(names, row, strict=True)) for row in found]


def id_array(values: list) -> object:
    """A list of ids as PostgreSQL's array literal ``'{1,2,3}'``, which the statement's
    ``column = ANY(%s)`` reads as an array of the column's own type; other lists as they are.

    psycopg writes a Python list into the statement element by element in Python (~1 us an
    id; a page sends 50 to 2,000) and types it by its largest value (``'{...}'::int4[]``
    against a ``bigint`` column), where one ``join`` gives the same array.
    """
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    return values
