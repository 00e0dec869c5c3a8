"""Set-based key statements built from a catalog: ``WHERE (k1, k2) IN (SELECT * FROM unnest(…))``. Pure.

The keys travel as arrays and are matched through ``unnest``, whose row count the planner knows:
it probes the key index once per key. A join with a freshly filled staging table does not get that
plan (the table has no statistics, so the planner assumes thousands of rows and hashes the whole
target table): in the backlog benchmark such deletes were 41% of PostgreSQL V2's execution time.

An array is cast to its column's type (``array_cast``) so that a key matches exactly the row its upsert
wrote through COPY, which parses each value's text with the column's input function:

- a character or bit type is cast without its length: an explicit cast to ``varchar(8)`` truncates a
  longer value (COPY refuses it), so ``'ABCDEFGHIJ'`` would match the row ``'ABCDEFGH'``;
- a numeric type is reached through text: a Python float dumps as ``float8``, whose cast to ``numeric``
  keeps 15 digits (``0.30000000000000004`` becomes ``0.3``), while COPY parses its shortest exact text.

A key column holding PostgreSQL's ``infinity`` (a timestamp or date) or a time of ``24:00:00``
(``pipeline.infinity``) travels as the array's text instead: psycopg dumps a list by its first
element's type, so an infinite value would go as the finite date it stands on (9999-12-31) and match
nothing, or fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from psycopg import sql
from psycopg.adapt import PyFormat

from replicator.errors import ConfigError
from replicator.mapping.catalog import Catalog, CatalogColumn
from replicator.pipeline.infinity import TEMPORAL_TYPES, array_literal, beyond_python


def catalog_columns(catalog: Catalog, table: str, columns: Sequence[str]) -> list[CatalogColumn]:
    """``columns`` of ``table`` as the catalog has them (their SQL type names, for array casts)."""
    entry = catalog.table(table)
    if entry is None:
        raise ConfigError(f"{catalog.schema}.{table}", source="database catalog", problem="table not found")
    out: list[CatalogColumn] = []
    for name in columns:
        column = entry.column(name)
        if column is None:
            raise ConfigError(
                f"{catalog.schema}.{table}.{name}", source="database catalog", problem="column not found"
            )
        out.append(column)
    return out


_LENGTH = re.compile(r"^(character varying|character|bit varying|bit)\(\d+\)$")
_UNBOUNDED = {"character varying": "varchar", "character": "bpchar", "bit varying": "varbit", "bit": "varbit"}
"""Each length-bound type's unbounded form (a bare ``character`` or ``bit`` would mean length 1)."""


def array_cast(type_name: str) -> str:
    """What an array of keys is cast to, to match column ``type_name`` as COPY would (module docstring)."""
    if match := _LENGTH.match(type_name):
        return f"{_UNBOUNDED[match.group(1)]}[]"
    if type_name == "numeric" or type_name.startswith("numeric("):
        return f"text[]::{type_name}[]"
    return f"{type_name}[]"


def select_keys(
    catalog: Catalog,
    table: str,
    key: Sequence[str],
    match: Sequence[str],
    values: Iterable[tuple[object, ...]],
) -> tuple[sql.Composed, list[object]]:
    """Rows of ``table`` whose ``match`` columns equal one of ``values``; selects ``match`` then ``key``.
    The arrays are sent in binary: dumping them as text costs a regex substitution per element."""
    where, params = matching(catalog, table, match, values)
    statement = sql.SQL("SELECT {match}, {key} FROM {schema}.{table} WHERE {where}").format(
        match=sql.SQL(", ").join(map(sql.Identifier, match)),
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        schema=sql.Identifier(catalog.schema),
        table=sql.Identifier(table),
        where=where,
    )
    return statement, params


def delete_keys(
    catalog: Catalog, table: str, key: Sequence[str], values: Iterable[tuple[object, ...]]
) -> tuple[sql.Composed, list[object]]:
    """Delete the rows of ``table`` whose ``key`` columns equal one of ``values``."""
    where, params = matching(catalog, table, key, values)
    statement = sql.SQL("DELETE FROM {schema}.{table} WHERE {where}").format(
        schema=sql.Identifier(catalog.schema), table=sql.Identifier(table), where=where
    )
    return statement, params


def matching(
    catalog: Catalog, table: str, match: Sequence[str], values: Iterable[tuple[object, ...]]
) -> tuple[sql.Composed, list[object]]:
    """``(match) IN (SELECT * FROM unnest(arrays))`` and its parameters: one binary array per column."""
    rows = list(values)
    found = catalog_columns(catalog, table, match)
    types = [c.type_name for c in found]
    columns = [[row[i] for row in rows] for i in range(len(match))]
    # only a date, time or timestamp column can hold such a value: the others are not scanned
    as_text = [
        c.base_type in TEMPORAL_TYPES and any(beyond_python(v) for v in values)
        for c, values in zip(found, columns, strict=True)
    ]
    where = sql.SQL("({match}) IN (SELECT * FROM unnest({arrays}))").format(
        match=sql.SQL(", ").join(map(sql.Identifier, match)),
        arrays=sql.SQL(", ").join(
            sql.SQL("{}::{}").format(
                sql.Placeholder(format=PyFormat.TEXT if text else PyFormat.BINARY), sql.SQL(array_cast(t))
            )
            for t, text in zip(types, as_text, strict=True)
        ),
    )
    return where, [array_literal(c) if text else c for c, text in zip(columns, as_text, strict=True)]
