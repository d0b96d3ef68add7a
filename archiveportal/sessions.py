"""Every request's two reads, the session and the signed-in member, as statements compiled once.

Each page a member opens reads its session row and then its user row before any view runs.
Through the ORM each read cost ~0.4-0.5 ms of the web worker's CPU (building and compiling a
queryset, then a model instance), against ~0.1 ms for the same statement sent as is: about a
tenth of a search page's CPU in the crowd of issue 13 (``bench/bench_load.py``). Here both are
the same SQL against the same rows, compiled by the ORM once per process and database.

Nothing about what a session means changes: the row is read on every request, so a logout
(the row deleted), an expiry (``expire_date`` passed) or a password change (Django's session
hash check, in ``django.contrib.auth.get_user``, still runs on the user read here) takes effect
on the very next request in every worker; no cache sits between. Writes (login, logout,
``cycle_key``, ``last_login``) remain Django's own.

Settings use both: ``SESSION_ENGINE = "archiveportal.sessions"`` and ``PortalModelBackend`` in
place of Django's ``ModelBackend`` in ``AUTHENTICATION_BACKENDS``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

# Never a real primary key: it marks where the member's id goes in the compiled user read.
_PK_MARKER = -987_654_321


class SessionStore(db.SessionStore):
    """Django's database sessions, the read on each request sent as one compiled statement."""

    _statements: dict[str, str] = {}  # database alias -> the session read's SQL

    def load(self) -> dict:
        alias = router.db_for_read(self.model)
        sql = self._statements.get(alias)
        if sql is None:
            sql = self._statements.setdefault(alias, _session_sql(self.model, alias))
        connection = connections[alias]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            # As Django's: an unknown or expired key is dropped, and a new one made if written.
            self._session_key = None
            return {}
        return self.decode(row[0])


def _session_sql(model, alias: str) -> str:
    """``Session.objects.filter(session_key=..., expire_date__gt=...)``'s data, as SQL."""
    qn = connections[alias].ops.quote_name
    meta = model._meta
    data, key, expires = (
        meta.get_field(f).column for f in ("session_data", "session_key", "expire_date")
    )
    return f"SELECT {qn(data)} FROM {qn(meta.db_table)} WHERE {qn(key)} = %s AND {qn(expires)} > %s"


class PortalModelBackend(ModelBackend):
    """Django's ``ModelBackend`` (passwords, permissions, ``is_active``), with the user read
    of every request (``get_user``) compiled once per process and database."""

    # (database alias, user model) -> the compiled read
    _compiled: dict[tuple[str, str], tuple[str, list, int, list[str], list]] = {}

    def get_user(self, user_id):
        model = get_user_model()
        if not isinstance(user_id, int) or model._meta.pk.get_internal_type() not in (
            "AutoField",
            "BigAutoField",
        ):
            return super().get_user(user_id)
        alias = router.db_for_read(model)
        key = (alias, model._meta.label)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled.setdefault(key, _user_statement(model, alias))
        sql, params, slot, names, converters = compiled
        bound = list(params)
        bound[slot] = user_id
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for i, functions, expression in converters:
            for convert in functions:
                values[i] = convert(values[i], expression, connection)
        user = model.from_db(alias, names, values)
        return user if self.user_can_authenticate(user) else None


def _user_statement(model, alias: str) -> tuple[str, list, int, list[str], list]:
    """``model._default_manager.get(pk=...)``'s statement with a marker where the id goes, the
    marker's place among the parameters, the selected fields' names and their converters."""
    queryset = model._default_manager.using(alias).filter(pk=_PK_MARKER)
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    (slot,) = [i for i, p in enumerate(params) if p == _PK_MARKER]
    names = [column.target.attname for column, _, _ in compiler.select]
    if names != [f.attname for f in model._meta.concrete_fields]:
        raise AssertionError(f"the user read selects {names}, not the model's fields")
    converters = compiler.get_converters([column for column, _, _ in compiler.select])
    found = [(i, functions, expression) for i, (functions, expression) in converters.items()]
    return sql, list(params), slot, names, found
