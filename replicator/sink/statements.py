"""SQL for V2 writes, built as (sql, params) with every identifier quoted by psycopg.sql. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psycopg import sql


def upsert(
    schema: str, table: str, row: Mapping[str, object], key: Sequence[str]
) -> tuple[sql.Composed, list[object]]:
    """INSERT … ON CONFLICT (key) DO UPDATE of the given columns only; absent columns stay as they are."""
    columns = list(row)
    non_key = [c for c in columns if c not in key]
    conflict_action = (
        sql.SQL("DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in non_key)
        )
        if non_key
        else sql.SQL("DO NOTHING")
    )
    statement = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({}) ON CONFLICT ({}) {}").format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() for _ in columns),
        sql.SQL(", ").join(map(sql.Identifier, key)),
        conflict_action,
    )
    return statement, [row[c] for c in columns]


def delete(schema: str, table: str, key_values: Mapping[str, object]) -> tuple[sql.Composed, list[object]]:
    statement = sql.SQL("DELETE FROM {}.{} WHERE {}").format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in key_values
        ),
    )
    return statement, list(key_values.values())
