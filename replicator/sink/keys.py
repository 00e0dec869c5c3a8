"""Set-based key lookups built from a catalog: ``WHERE (k1, k2) IN (SELECT * FROM unnest(…))``. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from psycopg import sql
from psycopg.adapt import PyFormat

from replicator.errors import ConfigError
from replicator.mapping.catalog import Catalog


def column_types(catalog: Catalog, table: str, columns: Sequence[str]) -> list[str]:
    """SQL type names of ``columns`` (as the catalog formats them), for array casts."""
    entry = catalog.table(table)
    if entry is None:
        raise ConfigError(f"{catalog.schema}.{table}", source="database catalog", problem="table not found")
    out = []
    for name in columns:
        column = entry.column(name)
        if column is None:
            raise ConfigError(
                f"{catalog.schema}.{table}.{name}", source="database catalog", problem="column not found"
            )
        out.append(column.type_name)
    return out


def select_keys(
    catalog: Catalog,
    table: str,
    key: Sequence[str],
    match: Sequence[str],
    values: Iterable[tuple[object, ...]],
) -> tuple[sql.Composed, list[object]]:
    """Rows of ``table`` whose ``match`` columns equal one of ``values``; selects ``match`` then ``key``.
    The arrays are sent in binary: dumping them as text costs a regex substitution per element."""
    rows = list(values)
    types = column_types(catalog, table, match)
    columns = [[row[i] for row in rows] for i in range(len(match))]
    statement = sql.SQL(
        "SELECT {match}, {key} FROM {schema}.{table} WHERE ({match}) IN (SELECT * FROM unnest({arrays}))"
    ).format(
        match=sql.SQL(", ").join(map(sql.Identifier, match)),
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        schema=sql.Identifier(catalog.schema),
        table=sql.Identifier(table),
        arrays=sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(format=PyFormat.BINARY), sql.SQL(t)) for t in types
        ),
    )
    return statement, list(columns)
