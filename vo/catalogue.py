"""The tables the TAP service answers for: ``ivoa.obscore`` over the mirror, and their metadata.

Column names, datatypes, units, UCDs and descriptions are ALMA's (``data/obscore_columns.csv``);
each maps to the mirror's column of the same name, except ``lastModified`` (``last_modified``).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from vo.adql import Column, Table

DATA = Path(__file__).resolve().parent / "data" / "obscore_columns.csv"
SQL_NAMES = {"lastModified": "last_modified"}


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


def tables() -> dict[str, Table]:
    return {
        "ivoa.obscore": Table(
            "ivoa.obscore", "queries_observation", obscore_columns(), geometry=True
        ),
    }
