"""ADQL 2.1 into the mirror's SQL, for PostgreSQL and SQLite, through an allow-list.

sqlglot parses the statement (its T-SQL reader knows ``TOP``; ADQL has no dialect of its own),
then this module walks the tree and *writes the SQL itself*: every node type, table, column and
function must be on the lists below or the statement is refused before anything runs, with a
message that names the problem and, where sqlglot knows it, the line and column. Strings are
bound as parameters, numbers are checked numbers, identifiers come from the catalogue, so no
text of the caller's reaches the database unexamined (``ADQL_NOTES.md``: no ``eval``, no
pass-through of unknown functions, one statement).

Geometry is exact. ``CONTAINS(POINT(s_ra, s_dec), CIRCLE(...))`` becomes a dot product of the
stored unit vectors (``s_x, s_y, s_z``). Every other predicate on a row's geometry
(``INTERSECTS`` or ``CONTAINS`` with ``s_region``, a point in a box or polygon) becomes a
``GeometryFilter``: the search page's own cone as a prefilter that can only over-select (a
row's centre within the shape's bounding radius plus half the row's ``s_fov``, ALMA's diameter
of the footprint's bounding circle; rows without a position never match), then the exact
spherical test of ``vo.sphere`` on each candidate's ``s_region``; the matching ids go back into
the statement as one bound parameter. That set is exactly the rows that satisfy the
predicate, so it composes with AND, OR, NOT, TOP, ORDER BY and aggregates. ``CONTAINS(a, b)``
means a lies inside b.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from vo import sphere


class AdqlError(ValueError):
    """A statement the service will not run: the message names what and where."""

    def __init__(self, message: str, node: exp.Expression | None = None) -> None:
        super().__init__(f"{message}{_where(node)}")


def _where(node: exp.Expression | None) -> str:
    if node is None:
        return ""
    for candidate in [node, *node.find_all(exp.Identifier, exp.Literal)]:
        meta = getattr(candidate, "meta", None) or {}
        if "line" in meta:
            # sqlglot's column is where the token ends; people count from where it starts.
            start = meta["col"] - (meta.get("end", 0) - meta.get("start", 0))
            return f" (line {meta['line']}, column {start})"
    return ""


# --- The catalogue the translator knows ---------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    datatype: str  # VOTable: char, int, long, double, float, boolean
    sql: str  # the source's column ("last_modified"), or an expression over "{t}" (the table)
    arraysize: str = ""
    unit: str = ""
    ucd: str = ""
    utype: str = ""
    description: str = ""
    xtype: str = ""


@dataclass(frozen=True)
class Table:
    name: str  # ADQL name, lower case: "ivoa.obscore"
    source: str  # SQL table (or parenthesised select) in the database
    columns: tuple[Column, ...]
    geometry: bool = False  # has id, s_region, s_ra, s_dec, s_x, s_y, s_z, s_fov

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


@dataclass(frozen=True)
class OutputColumn:
    name: str
    datatype: str
    arraysize: str = ""
    unit: str = ""
    ucd: str = ""
    utype: str = ""
    description: str = ""
    xtype: str = ""


@dataclass
class GeometryFilter:
    """Rows (their ``id``s) whose geometry satisfies ``test``.

    The query's shape lies within ``radius`` degrees of (``ra``, ``dec``): the executor
    prefilters with the search's own cone (``queries.filters.cone_q``: a row's centre within
    that radius plus half its ``s_fov``), then ``test(region_text, ra, dec)`` decides each
    candidate exactly. ``param_index`` is where the matching ids go in ``Translation.params``.
    """

    ra: float
    dec: float
    radius: float
    test: Callable[[str, float | None, float | None], bool]
    param_index: int


@dataclass
class Translation:
    sql: str
    params: list
    columns: list[OutputColumn]
    geometry: list[GeometryFilter] = field(default_factory=list)
    limit: int | None = None  # TOP n (the executor adds MAXREC)
    offset: int | None = None


# --- Functions ------------------------------------------------------------------------------

NUMERIC = "double"
# name: (min args, max args, result datatype, or None for "as the first argument")
FUNCTIONS: dict[str, tuple[int, int, str | None]] = {
    "ABS": (1, 1, None),
    "CEILING": (1, 1, NUMERIC),
    "FLOOR": (1, 1, NUMERIC),
    "ROUND": (1, 2, NUMERIC),
    "TRUNCATE": (1, 2, NUMERIC),
    "SQRT": (1, 1, NUMERIC),
    "POWER": (2, 2, NUMERIC),
    "EXP": (1, 1, NUMERIC),
    "LOG": (1, 1, NUMERIC),
    "LOG10": (1, 1, NUMERIC),
    "MOD": (2, 2, None),
    "PI": (0, 0, NUMERIC),
    "RAND": (0, 0, NUMERIC),
    "SIN": (1, 1, NUMERIC),
    "COS": (1, 1, NUMERIC),
    "TAN": (1, 1, NUMERIC),
    "COT": (1, 1, NUMERIC),
    "ASIN": (1, 1, NUMERIC),
    "ACOS": (1, 1, NUMERIC),
    "ATAN": (1, 1, NUMERIC),
    "ATAN2": (2, 2, NUMERIC),
    "DEGREES": (1, 1, NUMERIC),
    "RADIANS": (1, 1, NUMERIC),
    "SIGN": (1, 1, "int"),
    "LOWER": (1, 1, "char"),
    "UPPER": (1, 1, "char"),
    "COALESCE": (1, 32, None),
    "DISTANCE": (2, 4, NUMERIC),
    "COORD1": (1, 1, NUMERIC),
    "COORD2": (1, 1, NUMERIC),
}
AGGREGATES: dict[str, str | None] = {
    "COUNT": "long",
    "MIN": None,
    "MAX": None,
    "AVG": NUMERIC,
    "SUM": None,
}
SHAPES = ("POINT", "CIRCLE", "BOX", "POLYGON")

# sqlglot's typed nodes for the functions above, by their ADQL name.
_TYPED: dict[type, str] = {
    exp.Abs: "ABS",
    exp.Ceil: "CEILING",
    exp.Floor: "FLOOR",
    exp.Round: "ROUND",
    exp.Sqrt: "SQRT",
    exp.Pow: "POWER",
    exp.Exp: "EXP",
    exp.Ln: "LOG",
    exp.Log: "LOG10",
    exp.Lower: "LOWER",
    exp.Upper: "UPPER",
    exp.Coalesce: "COALESCE",
    exp.Count: "COUNT",
    exp.Min: "MIN",
    exp.Max: "MAX",
    exp.Avg: "AVG",
    exp.Sum: "SUM",
    exp.Contains: "CONTAINS",
}
for _cls_name, _adql_name in {
    "Sin": "SIN", "Cos": "COS", "Tan": "TAN", "Cot": "COT", "Asin": "ASIN", "Acos": "ACOS",
    "Atan": "ATAN", "Atan2": "ATAN2", "Sign": "SIGN", "Trunc": "TRUNCATE", "Degrees": "DEGREES",
    "Radians": "RADIANS", "Pi": "PI", "Rand": "RAND",
}.items():  # fmt: skip
    if hasattr(exp, _cls_name):
        _TYPED[getattr(exp, _cls_name)] = _adql_name


def function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    return _TYPED.get(type(node))


def function_args(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    if isinstance(node, exp.Log):  # LOG10(x) is read as Log(this=10, expression=x)
        return [node.expression] if node.expression is not None else [node.this]
    out = []
    for key in ("this", "expression", "decimals"):
        value = node.args.get(key)
        if isinstance(value, exp.Expression) and not isinstance(value, exp.Star):
            out.append(value)
    out.extend(node.expressions)
    return out


# --- Constants and shapes -------------------------------------------------------------------


def constant(node: exp.Expression) -> float:
    """A numeric constant expression (a literal, its negation, simple arithmetic)."""
    node = _unparen(node)
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            value = float(node.this)
        except ValueError:
            raise AdqlError(f"{node.this!r} is not a number", node) from None
        if not math.isfinite(value):
            raise AdqlError("numbers must be finite", node)
        return value
    if isinstance(node, exp.Neg):
        return -constant(node.this)
    if isinstance(node, exp.Add):
        return constant(node.this) + constant(node.expression)
    if isinstance(node, exp.Sub):
        return constant(node.this) - constant(node.expression)
    if isinstance(node, exp.Mul):
        return constant(node.this) * constant(node.expression)
    if isinstance(node, exp.Div):
        divisor = constant(node.expression)
        if divisor == 0:
            raise AdqlError("division by zero in a constant", node)
        return constant(node.this) / divisor
    raise AdqlError("a shape's coordinates, TOP and OFFSET must be numbers", node)


def _frame_and_numbers(node: exp.Expression, name: str) -> list[float]:
    args = function_args(node)
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        frame = args[0].this.strip().upper()
        if frame not in ("", "ICRS", "J2000", "FK5"):
            raise AdqlError(f"{name} in frame {args[0].this!r}: only ICRS is served", node)
        args = args[1:]
    return [constant(a) for a in args]


# --- The translator -------------------------------------------------------------------------


@dataclass
class _Scope:
    tables: dict[str, Table]  # alias (lower case) -> table


# A geometry operand: ("row-region" | "row-point", alias) or ("shape", sphere.Shape).
Operand = tuple[str, object]


class Translator:
    def __init__(self, tables: dict[str, Table], *, vendor: str) -> None:
        if vendor not in ("postgresql", "sqlite"):
            raise ValueError(f"unsupported database {vendor!r}")
        self.catalogue = {name.lower(): table for name, table in tables.items()}
        self.vendor = vendor
        self.params: list = []
        self.geometry: list[GeometryFilter] = []

    def translate(self, adql: str) -> Translation:
        text = (adql or "").strip()
        if not text:
            raise AdqlError("QUERY is empty: send one ADQL SELECT statement")
        if "\x00" in text:
            raise AdqlError("QUERY contains a NUL character")
        try:
            statements = [s for s in sqlglot.parse(text, read="tsql") if s is not None]
        except (ParseError, TokenError) as error:
            raise AdqlError(_parse_message(error)) from None
        if len(statements) != 1:
            raise AdqlError(f"QUERY holds {len(statements)} statements: send exactly one SELECT")
        statement = statements[0]
        if not isinstance(statement, exp.Select):
            raise AdqlError(f"only SELECT is allowed, not {statement.key.upper()}", statement)
        sql, columns, limit, offset = self.select(statement, top_level=True)
        return Translation(sql, self.params, columns, self.geometry, limit, offset)

    def bind(self, value: object) -> str:
        self.params.append(value)
        return "%s"

    # SELECT ----------------------------------------------------------------------------
    def select(
        self, node: exp.Select, *, top_level: bool = False
    ) -> tuple[str, list[OutputColumn], int | None, int | None]:
        allowed = {
            "expressions", "from", "from_", "where", "group", "having", "order", "limit",
            "offset", "distinct", "joins",
        }  # fmt: skip
        for key, value in node.args.items():
            if value and key not in allowed:
                raise AdqlError(f"{key.upper()} is not part of ADQL", node)
        source = node.args.get("from") or node.args.get("from_")
        if source is None:
            raise AdqlError("SELECT needs FROM ivoa.obscore (or a TAP_SCHEMA table)", node)
        scope = _Scope({})
        from_sql = self.table_ref(source.this, scope)
        for join in node.args.get("joins") or []:
            from_sql += self.join(join, scope)

        parts = ["SELECT"]
        if node.args.get("distinct"):
            parts.append("DISTINCT")
        select_sql, columns = self.select_list(node.expressions, scope)
        parts += [select_sql, "FROM " + from_sql]
        where = node.args.get("where")
        if where is not None:
            parts.append("WHERE " + self.condition(where.this, scope))
        group = node.args.get("group")
        if group is not None:
            parts.append("GROUP BY " + ", ".join(self.value(g, scope) for g in group.expressions))
        having = node.args.get("having")
        if having is not None:
            parts.append("HAVING " + self.condition(having.this, scope))
        order = node.args.get("order")
        if order is not None:
            keys = [self.ordered(o, scope, columns) for o in order.expressions]
            parts.append("ORDER BY " + ", ".join(keys))
        limit = offset = None
        limit_node = node.args.get("limit")
        if limit_node is not None:
            count = limit_node.expression if limit_node.expression is not None else limit_node.this
            limit = _whole(count, "TOP")
        offset_node = node.args.get("offset")
        if offset_node is not None:
            value = (
                offset_node.expression if offset_node.expression is not None else offset_node.this
            )
            offset = _whole(value, "OFFSET")
        if not top_level:
            if limit is not None:
                parts.append(f"LIMIT {limit}")
            if offset is not None:
                if limit is None and self.vendor == "sqlite":
                    parts.append("LIMIT -1")
                parts.append(f"OFFSET {offset}")
        return " ".join(parts), columns, limit, offset

    def table_ref(self, node: exp.Expression, scope: _Scope) -> str:
        if not isinstance(node, exp.Table):
            raise AdqlError("FROM takes a table name (subqueries in FROM are not served)", node)
        if node.args.get("catalog"):
            raise AdqlError("table names have at most two parts (schema.table)", node)
        name = ".".join(p for p in (node.db, node.name) if p).lower()
        table = self.catalogue.get(name)
        if table is None:
            known = ", ".join(sorted(self.catalogue))
            raise AdqlError(f"unknown table {name!r}; this service has: {known}", node)
        alias = (node.alias or node.name).lower()
        if alias in scope.tables:
            raise AdqlError(f"table alias {alias!r} is used twice", node)
        scope.tables[alias] = table
        return f"{table.source} AS {_quote(alias)}"

    def join(self, node: exp.Join, scope: _Scope) -> str:
        kind = " ".join(str(node.args.get(k) or "") for k in ("side", "kind")).strip().upper()
        if kind not in ("", "INNER", "LEFT", "LEFT OUTER", "OUTER"):
            raise AdqlError(f"{kind} JOIN is not supported", node)
        table_sql = self.table_ref(node.this, scope)
        on = node.args.get("on")
        if on is None:
            raise AdqlError("JOIN needs ON", node)
        word = "LEFT JOIN" if "LEFT" in kind else "JOIN"
        return f" {word} {table_sql} ON {self.condition(on, scope)}"

    def select_list(
        self, expressions: list[exp.Expression], scope: _Scope
    ) -> tuple[str, list[OutputColumn]]:
        sql: list[str] = []
        columns: list[OutputColumn] = []
        for item in expressions:
            star = isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            )
            if star:
                named = isinstance(item, exp.Column) and item.table
                aliases = [item.table.lower()] if named else list(scope.tables)
                for alias in aliases:
                    table = scope.tables.get(alias)
                    if table is None:
                        raise AdqlError(f"unknown table alias {alias!r}", item)
                    for column in table.columns:
                        sql.append(column_sql(alias, column))
                        columns.append(_output(column.name, column))
                continue
            expression, name = item, None
            if isinstance(item, exp.Alias):
                expression, name = item.this, item.alias
            sql.append(self.value(expression, scope))
            columns.append(self.describe(expression, scope, name or _default_name(expression)))
        # VOTable FIELD names must be unique: number repeats (s_ra, s_ra_2) as TOPCAT does.
        seen: dict[str, int] = {}
        unique = []
        for column in columns:
            key = column.name.lower()
            seen[key] = seen.get(key, 0) + 1
            unique.append(
                column if seen[key] == 1 else replace(column, name=f"{column.name}_{seen[key]}")
            )
        aliased = [f"{s} AS {_quote(c.name)}" for s, c in zip(sql, unique, strict=True)]
        return ", ".join(aliased), unique

    def ordered(self, node: exp.Expression, scope: _Scope, columns: list[OutputColumn]) -> str:
        direction = ""
        if isinstance(node, exp.Ordered):
            direction = " DESC" if node.args.get("desc") else " ASC"
            node = node.this
        if isinstance(node, exp.Literal) and not node.is_string:
            position = _whole(node, "ORDER BY")
            if not 1 <= position <= len(columns):
                raise AdqlError(
                    f"ORDER BY {position}: the select list has {len(columns)} columns", node
                )
            return f"{position}{direction}"
        if isinstance(node, exp.Column) and not node.table:
            for column in columns:
                if column.name.lower() == node.name.lower():
                    return f"{_quote(column.name)}{direction}"
        return self.value(node, scope) + direction

    # Output column types ------------------------------------------------------------------
    def describe(self, node: exp.Expression, scope: _Scope, name: str) -> OutputColumn:
        node = _unparen(node)
        if isinstance(node, exp.Column):
            return _output(name, self.resolve(node, scope)[1])
        if isinstance(node, exp.Literal):
            if node.is_string:
                return OutputColumn(name, "char", "*")
            return OutputColumn(name, "long" if node.this.isdigit() else NUMERIC)
        if isinstance(node, exp.DPipe):
            return OutputColumn(name, "char", "*")
        fname = function_name(node)
        if fname in AGGREGATES:
            result = AGGREGATES[fname]
            if result:
                return OutputColumn(name, result)
            inner = self.describe(function_args(node)[0], scope, name)
            return replace(inner, name=name, description="")
        if fname in FUNCTIONS:
            result = FUNCTIONS[fname][2]
            if result is None:
                inner = self.describe(function_args(node)[0], scope, name)
                return replace(inner, name=name, description="")
            unit = "deg" if fname in ("DISTANCE", "COORD1", "COORD2", "DEGREES") else ""
            return OutputColumn(name, result, "*" if result == "char" else "", unit)
        return OutputColumn(name, NUMERIC)

    # Values -------------------------------------------------------------------------------
    def resolve_alias(self, node: exp.Column, scope: _Scope) -> tuple[str, Column]:
        """(alias, column) of a column reference."""
        if node.table:
            alias = node.table.lower()
            table = scope.tables.get(alias)
            if table is None:
                raise AdqlError(f"unknown table or alias {node.table!r}", node)
            candidates = [(alias, table)]
        else:
            candidates = list(scope.tables.items())
        found = [(a, c) for a, t in candidates if (c := t.column(node.name)) is not None]
        if not found:
            tables = ", ".join(t.name for _, t in candidates)
            # astroquery 0.4.11 writes 'pvw' for pwv and 'pub_year' for publication_year:
            # name the column that was meant rather than leave its users guessing.
            names = [c.name for _, t in candidates for c in t.columns]
            close = difflib.get_close_matches(node.name, names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AdqlError(f"unknown column {node.name!r} in {tables}{hint}", node)
        if len(found) > 1:
            raise AdqlError(f"column {node.name!r} is ambiguous: name its table", node)
        return found[0]

    def resolve(self, node: exp.Column, scope: _Scope) -> tuple[str, Column]:
        """(SQL, column) of a column reference."""
        alias, column = self.resolve_alias(node, scope)
        return column_sql(alias, column), column

    def value(self, node: exp.Expression, scope: _Scope) -> str:
        if isinstance(node, exp.Paren):
            return f"({self.value(node.this, scope)})"
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                raise AdqlError("* is only allowed alone in the select list or in COUNT(*)", node)
            return self.resolve(node, scope)[0]
        if isinstance(node, exp.Literal):
            if node.is_string:
                return self.bind(node.this)
            return str(int(node.this)) if node.this.isdigit() else repr(constant(node))
        if isinstance(node, exp.Null):
            return "NULL"
        if isinstance(node, exp.Neg):
            return f"(-{self.value(node.this, scope)})"
        if isinstance(node, exp.Div):
            # ADQL divides as real numbers; SQL's integer division would truncate.
            real = "DOUBLE PRECISION" if self.vendor == "postgresql" else "REAL"
            left, right = self.value(node.this, scope), self.value(node.expression, scope)
            return f"(CAST({left} AS {real}) / {right})"
        operators = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.DPipe: "||"}
        if type(node) in operators:
            left, right = self.value(node.this, scope), self.value(node.expression, scope)
            return f"({left} {operators[type(node)]} {right})"
        if isinstance(node, exp.Mod):
            return self.call("MOD", [node.this, node.expression], scope, node)
        if isinstance(node, exp.Subquery):
            raise AdqlError("a subquery is only allowed after IN", node)
        fname = function_name(node)
        if fname is None:
            what = node.sql_name() if isinstance(node, exp.Func) else node.key.upper()
            raise AdqlError(f"{what} is not allowed", node)
        if fname in AGGREGATES:
            return self.aggregate(fname, node, scope)
        if fname in ("CONTAINS", "INTERSECTS"):
            raise AdqlError(f"{fname} must be compared with 0 or 1 ({fname}(...) = 1)", node)
        if fname in SHAPES:
            raise AdqlError(
                f"{fname} values cannot be selected; use them in CONTAINS, INTERSECTS or DISTANCE",
                node,
            )
        if fname not in FUNCTIONS:
            raise AdqlError(f"function {fname} is not allowed", node)
        return self.call(fname, function_args(node), scope, node)

    def aggregate(self, fname: str, node: exp.Expression, scope: _Scope) -> str:
        this = node.args.get("this")
        distinct = isinstance(this, exp.Distinct)
        if distinct:
            if len(this.expressions) != 1:
                raise AdqlError(f"{fname}(DISTINCT ...) takes one value", node)
            this = this.expressions[0]
        if this is None or isinstance(this, exp.Star):
            if fname != "COUNT":
                raise AdqlError(f"{fname}(*) is not allowed", node)
            return "COUNT(*)"
        return f"{fname}({'DISTINCT ' if distinct else ''}{self.value(this, scope)})"

    def call(
        self, fname: str, args: list[exp.Expression], scope: _Scope, node: exp.Expression
    ) -> str:
        low, high, _ = FUNCTIONS[fname]
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise AdqlError(f"{fname} takes {expected} argument(s), not {len(args)}", node)
        if fname == "DISTANCE":
            return self.distance(args, scope, node)
        if fname in ("COORD1", "COORD2"):
            coords = self.point_coordinates(args[0], node)
            return self.value(coords[0 if fname == "COORD1" else 1], scope)
        values = [self.value(a, scope) for a in args]
        pg = self.vendor == "postgresql"
        digits = values[1] if len(values) > 1 else "0"
        if fname == "LOG":
            return f"LN({values[0]})"
        if fname == "LOG10":
            return f"LOG({values[0]})" if pg else f"LOG(10, {values[0]})"
        if fname == "ROUND" and pg:
            return f"CAST(ROUND(CAST({values[0]} AS NUMERIC), {digits}) AS DOUBLE PRECISION)"
        if fname == "ROUND":
            return f"ROUND({values[0]}, {digits})"
        if fname == "TRUNCATE" and pg:
            return f"CAST(TRUNC(CAST({values[0]} AS NUMERIC), {digits}) AS DOUBLE PRECISION)"
        if fname == "TRUNCATE":
            return f"ADQL_TRUNCATE({values[0]}, {digits})"
        if fname == "RAND":
            return "RANDOM()" if pg else "ADQL_RAND()"
        if fname == "POWER" and pg:
            return f"POWER(CAST({values[0]} AS DOUBLE PRECISION), {values[1]})"
        return f"{fname}({', '.join(values)})"

    def point_coordinates(self, point: exp.Expression, node: exp.Expression) -> list:
        point = _unparen(point)
        if function_name(point) != "POINT":
            raise AdqlError("a POINT is expected here", node)
        args = function_args(point)
        if args and isinstance(args[0], exp.Literal) and args[0].is_string:
            args = args[1:]
        if len(args) != 2:
            raise AdqlError("POINT takes a frame and two coordinates", point)
        return args

    def distance(self, args: list[exp.Expression], scope: _Scope, node: exp.Expression) -> str:
        if len(args) == 2:
            coords = self.point_coordinates(args[0], node) + self.point_coordinates(args[1], node)
        elif len(args) == 4:
            coords = args
        else:
            raise AdqlError("DISTANCE takes two POINTs (or four numbers)", node)
        ra1, dec1, ra2, dec2 = (self.value(c, scope) for c in coords)
        # Haversine: accurate at small separations, where the acos of a dot product is not.
        return (
            f"DEGREES(2 * ASIN(SQRT(POWER(SIN(RADIANS({dec2} - {dec1}) / 2), 2) + "
            f"COS(RADIANS({dec1})) * COS(RADIANS({dec2})) * "
            f"POWER(SIN(RADIANS({ra2} - {ra1}) / 2), 2))))"
        )

    # Conditions ---------------------------------------------------------------------------
    def condition(self, node: exp.Expression, scope: _Scope) -> str:
        if isinstance(node, exp.Paren):
            return f"({self.condition(node.this, scope)})"
        if isinstance(node, exp.And):
            return (
                f"({self.condition(node.this, scope)} AND {self.condition(node.expression, scope)})"
            )
        if isinstance(node, exp.Or):
            return (
                f"({self.condition(node.this, scope)} OR {self.condition(node.expression, scope)})"
            )
        if isinstance(node, exp.Not):
            return f"(NOT {self.condition(node.this, scope)})"
        comparisons = {
            exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
        }  # fmt: skip
        if type(node) in comparisons:
            geometry = self.geometry_comparison(node, scope)
            if geometry is not None:
                return geometry
            left, right = self.value(node.this, scope), self.value(node.expression, scope)
            return f"({left} {comparisons[type(node)]} {right})"
        if isinstance(node, exp.Between):
            low, high = self.value(node.args["low"], scope), self.value(node.args["high"], scope)
            return f"({self.value(node.this, scope)} BETWEEN {low} AND {high})"
        if isinstance(node, exp.In):
            return self.in_list(node, scope)
        if isinstance(node, exp.Like | exp.ILike):
            return self.like(node, scope, insensitive=isinstance(node, exp.ILike))
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise AdqlError("IS takes NULL or NOT NULL", node)
            return f"({self.value(node.this, scope)} IS NULL)"
        if function_name(node) in ("CONTAINS", "INTERSECTS"):
            raise AdqlError(f"{function_name(node)}(...) is compared with 0 or 1", node)
        raise AdqlError(f"{node.key.upper()} is not a condition", node)

    def in_list(self, node: exp.In, scope: _Scope) -> str:
        left = self.value(node.this, scope)
        query = node.args.get("query")
        if query is not None:
            inner = query.this if isinstance(query, exp.Subquery) else query
            if not isinstance(inner, exp.Select):
                raise AdqlError("IN takes a list or a SELECT", node)
            sql, columns, _, _ = self.select(inner)
            if len(columns) != 1:
                raise AdqlError("a subquery after IN selects exactly one column", node)
            return f"({left} IN ({sql}))"
        if not node.expressions:
            raise AdqlError("IN needs at least one value", node)
        return f"({left} IN ({', '.join(self.value(i, scope) for i in node.expressions)}))"

    def like(self, node: exp.Expression, scope: _Scope, *, insensitive: bool) -> str:
        if node.args.get("escape") is not None:
            raise AdqlError("LIKE ... ESCAPE is not supported", node)
        value, pattern = self.value(node.this, scope), self.value(node.expression, scope)
        if self.vendor == "postgresql":
            return f"({value} {'ILIKE' if insensitive else 'LIKE'} {pattern})"
        # SQLite's LIKE ignores case; ADQL's does not: functions registered on the connection.
        return f"({'ADQL_ILIKE' if insensitive else 'ADQL_LIKE'}({value}, {pattern}) = 1)"

    # Geometry -----------------------------------------------------------------------------
    def geometry_comparison(self, node: exp.Expression, scope: _Scope) -> str | None:
        left, right = _unparen(node.this), _unparen(node.expression)
        if function_name(left) not in ("CONTAINS", "INTERSECTS"):
            left, right = right, left
        fname = function_name(left)
        if fname not in ("CONTAINS", "INTERSECTS"):
            return None
        if not isinstance(right, exp.Literal) or right.is_string or right.this not in ("0", "1"):
            raise AdqlError(f"{fname}(...) is compared with 0 or 1", node)
        if not isinstance(node, exp.EQ | exp.NEQ):
            raise AdqlError(f"{fname}(...) is compared with = or <>", node)
        wanted = (right.this == "1") == isinstance(node, exp.EQ)
        args = function_args(left)
        if len(args) != 2:
            raise AdqlError(f"{fname} takes two shapes", left)
        first, second = (self.operand(a, scope) for a in args)
        sql = self.geometry_predicate(fname, first, second, left)
        return sql if wanted else f"(NOT {sql})"

    def operand(self, node: exp.Expression, scope: _Scope) -> Operand:
        node = _unparen(node)
        if isinstance(node, exp.Column):
            alias, column = self.resolve_alias(node, scope)
            if column.name == "s_region" and scope.tables[alias].geometry:
                return ("row-region", alias)
            raise AdqlError(f"{column.name} is not a region (use s_region)", node)
        fname = function_name(node)
        if fname == "POINT":
            coords = self.point_coordinates(node, node)
            if all(isinstance(_unparen(c), exp.Column) for c in coords):
                resolved = [self.resolve_alias(_unparen(c), scope) for c in coords]
                alias = resolved[0][0]
                names = [column.name for _, column in resolved]
                if names == ["s_ra", "s_dec"] and scope.tables[alias].geometry:
                    return ("row-point", alias)
                raise AdqlError("a POINT of columns must be POINT('ICRS', s_ra, s_dec)", node)
            ra, dec = (constant(c) for c in coords)
            return ("shape", sphere.Circle.from_deg(ra, dec, 0.0))  # a point: radius 0
        if fname == "CIRCLE":
            args = function_args(node)
            if len(args) == 2 and function_name(_unparen(args[0])) == "POINT":
                kind, point = self.operand(args[0], scope)
                radius = constant(args[1])
                if kind != "shape" or radius < 0:
                    raise AdqlError("CIRCLE(POINT, r) needs a constant point and r >= 0", node)
                return ("shape", sphere.Circle(point.center, math.radians(radius)))  # type: ignore[attr-defined]
            numbers = _frame_and_numbers(node, "CIRCLE")
            if len(numbers) != 3 or numbers[2] < 0:
                raise AdqlError("CIRCLE takes a frame, ra, dec and a radius >= 0 (degrees)", node)
            return ("shape", sphere.Circle.from_deg(*numbers))
        if fname == "BOX":
            numbers = _frame_and_numbers(node, "BOX")
            if len(numbers) != 4 or numbers[2] < 0 or numbers[3] < 0:
                raise AdqlError("BOX takes a frame, ra, dec, width and height (degrees)", node)
            return ("shape", sphere.box(*numbers))
        if fname == "POLYGON":
            try:
                return ("shape", sphere.Polygon.from_deg(_frame_and_numbers(node, "POLYGON")))
            except ValueError as error:
                raise AdqlError(f"POLYGON: {error}", node) from None
        raise AdqlError(f"{fname or node.key.upper()} is not a shape", node)

    def geometry_predicate(
        self, fname: str, first: Operand, second: Operand, node: exp.Expression
    ) -> str:
        if first[0] == "shape" and second[0] == "shape":
            return "(1 = 1)" if _constant_relation(fname, first[1], second[1]) else "(1 = 0)"  # type: ignore[arg-type]
        if "shape" not in (first[0], second[0]):
            raise AdqlError(f"one side of {fname} must be a constant shape", node)
        row, other = (first, second) if first[0] != "shape" else (second, first)
        shape: sphere.Shape = other[1]  # type: ignore[assignment]
        row_first = row is first
        alias = str(row[1])
        q = _quote(alias)

        # Exact in SQL: a row's position inside a circle.
        point_in_circle = row[0] == "row-point" and isinstance(shape, sphere.Circle)
        if point_in_circle and (fname == "INTERSECTS" or row_first):
            if shape.radius >= math.pi:
                return f"({q}.s_x IS NOT NULL)"
            x, y, z = shape.center
            return (
                f"(({q}.s_x * {x!r} + {q}.s_y * {y!r} + {q}.s_z * {z!r}) >= "
                f"{math.cos(shape.radius + sphere.EPS)!r})"
            )

        centre, radius = _bounds(shape)
        x, y, z = centre
        index = len(self.params)
        self.params.append(None)  # the matching ids, bound by the executor
        self.geometry.append(
            GeometryFilter(
                math.degrees(math.atan2(y, x)) % 360.0,
                math.degrees(math.asin(max(-1.0, min(1.0, z)))),
                math.degrees(radius),
                _row_test(fname, row[0], shape, row_first),
                index,
            )
        )
        if self.vendor == "postgresql":
            return f"({q}.id = ANY(%s))"
        return f"({q}.id IN (SELECT value FROM json_each(%s)))"


def _whole(node: exp.Expression, what: str) -> int:
    value = constant(node)
    if value < 0 or value != int(value):
        raise AdqlError(f"{what} takes a whole number >= 0", node)
    return int(value)


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def column_sql(alias: str, column: Column) -> str:
    """A column of the aliased table: a plain name, or an expression whose ``{t}`` is the
    table (``access_url`` and ``data_rights`` are computed when they are read)."""
    if "{t}" in column.sql:
        return column.sql.replace("{t}", _quote(alias))
    return f"{_quote(alias)}.{column.sql}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _output(name: str, column: Column) -> OutputColumn:
    return OutputColumn(
        name, column.datatype, column.arraysize, column.unit, column.ucd, column.utype,
        column.description, column.xtype,
    )  # fmt: skip


def _default_name(node: exp.Expression) -> str:
    node = _unparen(node)
    if isinstance(node, exp.Column):
        return node.name
    return (function_name(node) or "expr").lower()


def _parse_message(error: Exception) -> str:
    details = getattr(error, "errors", None) or []
    if details:
        first = details[0]
        near = (first.get("highlight") or "").strip()
        return (
            f"syntax error near {near!r} (line {first.get('line')}, column {first.get('col')}): "
            f"{first.get('description')}"
        )
    return f"syntax error: {error}"


# --- Exact tests on a row's geometry --------------------------------------------------------


def _bounds(shape: sphere.Shape) -> tuple[sphere.Vec, float]:
    if isinstance(shape, sphere.Circle):
        return shape.center, shape.radius
    assert isinstance(shape, sphere.Polygon)
    centre = shape.centroid()
    return centre, max(sphere.angle(centre, v) for v in shape.vertices)


def _row_test(fname: str, kind: str, shape: sphere.Shape, row_first: bool):
    """test(region_text, ra, dec) for one row; a region that does not parse never matches."""

    def region_of(text: str, ra: float | None, dec: float | None) -> sphere.Region | None:
        if kind == "row-point":
            if ra is None or dec is None:
                return None
            return sphere.Region([(sphere.Circle.from_deg(ra, dec, 0.0), [])])
        try:
            return sphere.parse_stcs(text)
        except ValueError:
            return None

    def test(text: str, ra: float | None, dec: float | None) -> bool:
        region = region_of(text, ra, dec)
        if region is None:
            return False
        if fname == "INTERSECTS":
            return sphere.region_meets(region, shape)
        if row_first:  # CONTAINS(row, shape): the row's region lies inside the shape
            return sphere.region_inside(region, shape)
        # CONTAINS(shape, row): the shape lies inside the row's region, clear of its holes.
        return any(
            sphere.inside(shape, part) and not any(sphere.shapes_meet(shape, h) for h in holes)
            for part, holes in region.parts
        )

    return test


def _constant_relation(fname: str, first: sphere.Shape, second: sphere.Shape) -> bool:
    """Both sides constant: CONTAINS(a, b) is a inside b; INTERSECTS is symmetric."""
    if fname == "INTERSECTS":
        return sphere.shapes_meet(first, second)
    return sphere.inside(first, second)


def translate(adql: str, tables: dict[str, Table], *, vendor: str) -> Translation:
    return Translator(tables, vendor=vendor).translate(adql)
