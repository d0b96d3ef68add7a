"""A search's WHERE clause compiled once per distinct search, not once per page view.

Turning a search's ``Q`` into SQL (``QuerySet.filter`` then the compiler) cost ~1 ms of CPU
on a cone page, a fifth of what the view itself costs (issue 13: a page should cost little
more than its SQL). Members re-run the same searches all day (paging, sorting, the crowd's
ten searches), so the SQL is kept per search, keyed by a **fingerprint** of the ``Q``.

The fingerprint must never give two different searches one key, so it is exact, not Django's
equality (``Q.__eq__`` holds ``2 == 2.0``, and a ``Lookup``'s ``identity`` leaves out
attributes such as ``filters.Like``'s case sensitivity). It is the ``Q`` pickled: a faithful
serialisation of every node, class and instance attribute, values with their types (an int
and a float are different opcodes), 0.12 ms for a cone's ``Q`` where walking it in Python
cost 2 ms. Two equal searches built separately pickle to the same bytes (a test holds that
for the search form's fields); should they not, the cost is a miss, never a wrong clause. A
queryset or a model instance inside a ``Q`` (a subquery such as the abstract search's) makes
the search not cacheable: pickling a queryset would run it, so such a search is compiled as
before, every time.

The mirror's state that a ``Q`` depends on (the widest footprint, the widest spectral window,
the time) is read while the ``Q`` is built (``queries.filters``), so it is in its values and
in the key. PostgreSQL only, as the callers' raw statements are.

**Projects resolved first.** A project-level text search (title, abstract, PI: ``queries.kinds``
writes it as ``project_id IN (SELECT id FROM projects WHERE abstract_upper LIKE ...)``) is
compiled with the matching projects' ids read once, when the WHERE is compiled, and written as
``project_id = ANY(ids)``: one trigram match instead of one per statement that tests the WHERE
(the estimate, the count and the page each planned the LIKE again, 1.5-2 ms apiece on 1M rows
with the statistics target 1,000 that migration 0013 set), and the planner then estimates the
observations from ``project_id``'s own statistics, not from a text pattern's. Up to
``RESOLVED_PROJECTS`` projects; a search matching more keeps its subquery (planning a long id
list costs about what it saves), after a read of at most that many projects plus one (~8 ms
for a negated word on 1M rows, whose count then takes far longer).
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from threading import Lock

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.models import Lookup, Model, Q, QuerySet
from django.db.models.lookups import In
from django.db.models.sql import Query
from django.db.models.sql.where import WhereNode

from queries.compiled import id_array
from queries.models import Project

# Searches kept per process; a key is small, a clause a few hundred bytes.
MAX_SEARCHES = 512
# A project-level search matching at most this many projects is compiled with their ids.
RESOLVED_PROJECTS = 2_000


class _NotCacheable(Exception):
    """A value inside a ``Q`` that is not kept by its bytes (see module doc)."""


class _Fingerprinter(pickle.Pickler):
    def reducer_override(self, obj: object) -> object:
        # Called for every object pickled but exact ints, floats, strings, lists, tuples, dicts
        # and the like (none of which is a queryset or a model instance): refuse what has state
        # beyond its attributes, pickle the rest as plain pickle does. The same bytes as a
        # ``persistent_id`` hook, which Python calls for every value: 48 against 170 us for a
        # band search's Q, 191 against 330 for a cone's.
        if isinstance(obj, QuerySet | Model):
            raise _NotCacheable(type(obj).__qualname__)
        return NotImplemented


def fingerprint(q: Q) -> bytes:
    """``q``'s exact description (see module doc); ``_NotCacheable`` where there is none."""
    out = io.BytesIO()
    _Fingerprinter(out, protocol=pickle.HIGHEST_PROTOCOL).dump(q)
    return out.getvalue()


_kept: OrderedDict[object, tuple[str, tuple] | None] = OrderedDict()
_lock = Lock()


def where_of(model: type[Model], q: Q) -> tuple[str, tuple] | None:
    """``model.objects.filter(q)``'s WHERE as (SQL, parameters), or None where it needs
    another table, matches everything or nothing, or off PostgreSQL; kept per search."""
    if connection.vendor != "postgresql":
        return None
    try:
        key = (connection.alias, model._meta.label, fingerprint(q))
    except (_NotCacheable, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        # Not picklable (a lambda, a lock, a local class): not kept, compiled as before.
        return compile_where(model, q)
    with _lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
    where = compile_where(model, q)
    with _lock:
        _kept[key] = where
        while len(_kept) > MAX_SEARCHES:
            _kept.popitem(last=False)
    return where


def compile_where(model: type[Model], q: Q) -> tuple[str, tuple] | None:
    """The compilation ``where_of`` keeps (PostgreSQL)."""
    query = model._default_manager.filter(q).query
    joined = [a for a, n in query.alias_refcount.items() if n and a != query.base_table]
    if joined:
        return None
    _resolve_projects(query.where)
    try:
        sql, params = query.get_compiler(connection=connection).compile(query.where)
    except (EmptyResultSet, FullResultSet):
        return None
    return sql, tuple(params)


class AnyOf(Lookup):
    """``column = ANY(ids)``: the ids (integers) as one array parameter, typed as the column,
    so that PostgreSQL hashes it when it filters rows (a cross-type array is searched
    linearly). The parameter is the array's text, written once: psycopg writes a list
    element by element in Python on every statement (1,104 ids three times a page: 4.7 ms of
    the abstract search's CPU), a string in one go."""

    lookup_name = "portal_any_of"
    prepare_rhs = False

    def __init__(self, lhs, ids: list[int]) -> None:  # ids as the database gave them
        super().__init__(lhs, id_array(ids))

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        array = f"{self.lhs.output_field.db_type(connection)}[]"
        return f"{lhs} = ANY(%s::{array})", [*params, self.rhs]


def resolved(queryset: QuerySet) -> QuerySet:
    """``queryset`` (a fresh ``filter``) with its project subqueries resolved as
    ``compile_where`` resolves them, for the statements compiled from the queryset itself (a
    search whose WHERE joins another table): its clones share the resolved ids, so the
    projects are matched once however many statements it compiles to. PostgreSQL only."""
    if connection.vendor == "postgresql":
        _resolve_projects(queryset.query.where)
    return queryset


def _resolve_projects(where: WhereNode) -> None:
    """Replace, in place, each ``IN (subquery of projects)`` of ``where`` by ``= ANY(ids)``
    with the ids the subquery finds now (see the module doc), unless it finds more than
    ``RESOLVED_PROJECTS``. Negated searches keep Django's NULL handling: it is a separate
    ``IS NOT NULL`` beside the lookup, left as it is."""
    for n, child in enumerate(where.children):
        if isinstance(child, WhereNode):
            _resolve_projects(child)
        elif (
            isinstance(child, In)
            and isinstance(child.rhs, Query)
            and child.rhs.model is Project
            and len(child.rhs.select) == 1
        ):
            sql, params = child.rhs.get_compiler(connection=connection).as_sql()
            with connection.cursor() as cursor:
                cursor.execute(f"{sql} LIMIT {RESOLVED_PROJECTS + 1}", params)
                ids = sorted(row[0] for row in cursor.fetchall())
            if len(ids) <= RESOLVED_PROJECTS:
                where.children[n] = AnyOf(child.lhs, ids)


def forget() -> None:
    """Drop every kept clause (tests; a schema change in a running process)."""
    with _lock:
        _kept.clear()
