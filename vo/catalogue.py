"""The tables the TAP service answers for, and the metadata that describes them.

``ivoa.obscore`` is the mirror's ``queries_observation`` table: ALMA's column names, datatypes,
units, UCDs and descriptions (``data/obscore_columns.csv``), each column the mirror's column of
the same name (``lastModified`` is ``last_modified``), except two that are computed when read:
``access_url`` is this portal's DataLink for the row's member OUS (never a file a caller may not
have, never ALMA's address), and ``data_rights`` is the portal's one release rule
(``MemberOUS.released_q``) at the moment of the query, so TAP, the search page and downloads
agree. ``TAP_SCHEMA`` is generated from the same list as constant selects, so the metadata a
client reads and the columns a query can name can never disagree.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import connection

from queries.models import MemberOUS
from vo.adql import Column, Table

DATA = Path(__file__).resolve().parent / "data" / "obscore_columns.csv"
SQL_NAMES = {"lastModified": "last_modified"}
OBSCORE_DESCRIPTION = "ALMA observations (ObsCore 1.1 with ALMA's extensions), the lab's mirror"
# Shown first by clients that show "principal" columns only (TOPCAT, the TAP_SCHEMA browser).
PRINCIPAL = {
    "obs_id", "target_name", "s_ra", "s_dec", "s_fov", "band_list", "frequency",
    "spatial_resolution", "t_min", "t_exptime", "proposal_id", "member_ous_uid",
    "obs_release_date", "data_rights", "access_url",
}  # fmt: skip
# Columns with an index in the mirror (queries/migrations): cheap to constrain.
INDEXED = {
    "proposal_id",
    "member_ous_uid",
    "group_ous_uid",
    "asdm_uid",
    "s_dec",
    "frequency",
    "t_min",
}


@lru_cache(maxsize=1)
def obscore_columns() -> tuple[Column, ...]:
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return tuple(
        Column(
            name=row["column_name"],
            datatype=row["datatype"],
            sql=SQL_NAMES.get(row["column_name"], row["column_name"]),
            arraysize=row["arraysize"],
            unit=row["unit"],
            ucd=row["ucd"],
            utype=row["utype"],
            description=row["description"],
            xtype="timestamp" if row["column_name"] in ("obs_release_date", "lastModified") else "",
        )
        for row in rows
    )


def obscore(*, at: datetime | None = None, base_url: str | None = None) -> Table:
    """``ivoa.obscore`` as read at ``at`` (the portal clock) from a portal at ``base_url``."""
    base = (base_url or settings.PORTAL_BASE_URL).rstrip("/")
    computed = {
        "access_url": f"({_literal(base + '/datalink/sync?ID=')} || {{t}}.member_ous_uid)",
        "data_rights": (
            f"(CASE WHEN EXISTS ({_released_member_ous(at)} AND "
            f'"queries_memberous"."id" = {{t}}.member_ous_id) '
            "THEN 'Public' ELSE 'Proprietary' END)"
        ),
    }
    columns = tuple(
        replace(c, sql=computed[c.name]) if c.name in computed else c for c in obscore_columns()
    )
    return Table("ivoa.obscore", "queries_observation", columns, geometry=True)


def _released_member_ous(at: datetime | None) -> str:
    """SQL selecting the member OUSs released at ``at`` (``... WHERE <rule>``), written by the
    ORM from the one rule; its parameters (instants) are made literals here. Correlated by the
    caller on the row's member OUS, so a query reads the rule for the rows it returns only."""
    queryset = MemberOUS.objects.filter(MemberOUS.released_q(at))
    sql, params = queryset.values("id").query.sql_with_params()
    if " WHERE " not in sql or " ORDER BY " in sql:
        raise RuntimeError("unexpected shape of the release rule's SQL")
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1:
        raise RuntimeError("unexpected placeholders in the release rule's SQL")
    out = pieces[0]
    for value, piece in zip(params, pieces[1:], strict=True):
        out += _instant(value) + piece
    return out


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2})?$")


def _instant(value: object) -> str:
    """A parameter of the release rule as an SQL literal: instants only (SQLite's arrive
    already written as text by Django), checked before they are written into SQL."""
    if isinstance(value, datetime):
        value = (
            connection.ops.adapt_datetimefield_value(value)
            if connection.vendor == "sqlite"
            else value.isoformat()
        )
    if not isinstance(value, str) or not _INSTANT.match(value):
        raise TypeError(f"the release rule bound {value!r}, not an instant")
    if connection.vendor == "sqlite":
        return _literal(value)
    return f"CAST({_literal(value)} AS TIMESTAMP WITH TIME ZONE)"


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _constant_table(columns: list[Column], rows: list[tuple]) -> str:
    """A parenthesised SELECT of constant rows (UNION ALL), typed by its first row or a
    WHERE 1 = 0 row of NULLs, on PostgreSQL and SQLite alike."""
    if not rows:
        casts = ", ".join(
            f"CAST(NULL AS {'INTEGER' if c.datatype == 'int' else 'VARCHAR(256)'}) AS {c.sql}"
            for c in columns
        )
        return f"(SELECT {casts} WHERE 1 = 0)"
    selects = [
        "SELECT "
        + ", ".join(f"{_literal(v)} AS {c.sql}" for v, c in zip(row, columns, strict=True))
        for row in rows
    ]
    return "(" + " UNION ALL ".join(selects) + ")"


def _meta(name: str, datatype: str = "char", description: str = "") -> Column:
    return Column(
        name,
        datatype,
        name if name != "size" else "size_",
        "*" if datatype == "char" else "",
        description=description,
    )


SCHEMAS_COLUMNS = [
    _meta("schema_name"),
    _meta("utype"),
    _meta("description"),
    _meta("schema_index", "int"),
]
TABLES_COLUMNS = [
    _meta("schema_name"), _meta("table_name"), _meta("table_type"), _meta("utype"),
    _meta("description"), _meta("table_index", "int"),
]  # fmt: skip
COLUMNS_COLUMNS = [
    _meta("table_name"), _meta("column_name"), _meta("utype"), _meta("ucd"), _meta("unit"),
    _meta("description"), _meta("datatype"), _meta("arraysize"), _meta("xtype"),
    _meta("size", "int"), _meta("principal", "int"), _meta("indexed", "int"), _meta("std", "int"),
    _meta("column_index", "int"),
]  # fmt: skip
KEYS_COLUMNS = [
    _meta("key_id"), _meta("from_table"), _meta("target_table"), _meta("utype"),
    _meta("description"),
]  # fmt: skip
KEY_COLUMNS_COLUMNS = [_meta("key_id"), _meta("from_column"), _meta("target_column")]


def _size(arraysize: str) -> int | None:
    digits = arraysize.rstrip("*")
    return int(digits) if digits.isdigit() else None


def tables(*, at: datetime | None = None, base_url: str | None = None) -> dict[str, Table]:
    """Every table a query may name, by its lower-case ADQL name, read at ``at``."""
    return {"ivoa.obscore": obscore(at=at, base_url=base_url), **schema_tables()}


@lru_cache(maxsize=1)
def schema_tables() -> dict[str, Table]:
    """TAP_SCHEMA, built once from the column list."""
    schema_tables = {
        "tap_schema.schemas": SCHEMAS_COLUMNS,
        "tap_schema.tables": TABLES_COLUMNS,
        "tap_schema.columns": COLUMNS_COLUMNS,
        "tap_schema.keys": KEYS_COLUMNS,
        "tap_schema.key_columns": KEY_COLUMNS_COLUMNS,
    }
    described = [("ivoa.obscore", OBSCORE_DESCRIPTION, list(obscore_columns()))] + [
        (name, f"TAP_SCHEMA: {name.split('.')[1]}", columns)
        for name, columns in schema_tables.items()
    ]
    schemas = [
        ("ivoa", "", "IVOA standard data models (ObsCore)", 0),
        ("TAP_SCHEMA", "", "The service's own description (TAP 1.1)", 1),
    ]
    table_rows = [
        (
            _public_name(name).split(".")[0],
            _public_name(name),
            "table",
            "ivo://ivoa.net/std/ObsCore#table-1.1" if name == "ivoa.obscore" else "",
            description,
            index,
        )
        for index, (name, description, _) in enumerate(described)
    ]
    column_rows = []
    for name, _, columns in described:
        for index, c in enumerate(columns):
            column_rows.append(
                (
                    _public_name(name), published_name(c), c.utype, c.ucd, c.unit, c.description,
                    c.datatype, c.arraysize, c.xtype, _size(c.arraysize),
                    int(name != "ivoa.obscore" or c.name in PRINCIPAL),
                    int(name == "ivoa.obscore" and c.name in INDEXED),
                    int(c.utype.lower().startswith("obscore:") or name != "ivoa.obscore"),
                    index,
                )
            )  # fmt: skip
    return {
        "tap_schema.schemas": Table(
            "tap_schema.schemas", _constant_table(SCHEMAS_COLUMNS, schemas), tuple(SCHEMAS_COLUMNS)
        ),
        "tap_schema.tables": Table(
            "tap_schema.tables", _constant_table(TABLES_COLUMNS, table_rows), tuple(TABLES_COLUMNS)
        ),
        "tap_schema.columns": Table(
            "tap_schema.columns",
            _constant_table(COLUMNS_COLUMNS, column_rows),
            tuple(COLUMNS_COLUMNS),
        ),
        "tap_schema.keys": Table(
            "tap_schema.keys", _constant_table(KEYS_COLUMNS, KEYS), tuple(KEYS_COLUMNS)
        ),
        "tap_schema.key_columns": Table(
            "tap_schema.key_columns",
            _constant_table(KEY_COLUMNS_COLUMNS, KEY_COLUMNS),
            tuple(KEY_COLUMNS_COLUMNS),
        ),
    }


# TAP_SCHEMA's own foreign keys (TAP 1.1, section 4): (key_id, from, target, from col, target col)
_LINKS = [
    ("schemas_tables", "tables", "schemas", "schema_name", "schema_name"),
    ("tables_columns", "columns", "tables", "table_name", "table_name"),
    ("tables_keys_from", "keys", "tables", "from_table", "table_name"),
    ("tables_keys_target", "keys", "tables", "target_table", "table_name"),
    ("keys_key_columns", "key_columns", "keys", "key_id", "key_id"),
]
KEYS = [(k, f"TAP_SCHEMA.{f}", f"TAP_SCHEMA.{t}", "", "") for k, f, t, _, _ in _LINKS]
KEY_COLUMNS = [(k, fc, tc) for k, _, _, fc, tc in _LINKS]


def foreign_keys(table: str) -> list[tuple[str, str, str]]:
    """(target table, from column, target column) of the keys leaving ``table`` (public name)."""
    return [(f"TAP_SCHEMA.{t}", fc, tc) for _, f, t, fc, tc in _LINKS if f"TAP_SCHEMA.{f}" == table]


def published_name(column: Column) -> str:
    """A column's name as TAP_SCHEMA and VOSI spell it: delimited where ADQL reserves the word
    (TAP_SCHEMA.columns."size")."""
    return f'"{column.name}"' if column.name.upper() in ADQL_RESERVED else column.name


ADQL_RESERVED = {"SIZE"}


def _public_name(name: str) -> str:
    """How TAP_SCHEMA and VOSI spell a table: TAP_SCHEMA in capitals, as clients expect."""
    schema, table = name.split(".")
    return f"{'TAP_SCHEMA' if schema == 'tap_schema' else schema}.{table}"


def described_tables() -> list[tuple[str, str, tuple[Column, ...]]]:
    """(public name, description, columns) of every table, for VOSI /tables."""
    out = []
    for name, table in {"ivoa.obscore": obscore(), **schema_tables()}.items():
        description = (
            OBSCORE_DESCRIPTION if name == "ivoa.obscore" else f"TAP_SCHEMA: {name.split('.')[1]}"
        )
        out.append((_public_name(name), description, table.columns))
    return out
