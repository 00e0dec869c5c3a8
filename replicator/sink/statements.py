"""The texts of the staged writes, built once per table and column set. Pure.

Composed with ``psycopg.sql`` (every identifier quoted) and kept as text: composing and quoting them
again for every run of every batch showed in the workers' profile (the backlog benchmark).
"""

from __future__ import annotations

from functools import lru_cache

from psycopg import sql

__all__ = [
    "copy_into_stage",
    "create_stage",
    "stage_name",
    "take_absent_parents",
    "truncate_stage",
    "upsert_from_stage",
]


def stage_name(table: str) -> str:
    """The session's temporary staging table of a V2 table."""
    return f"_stage_{table}"


def _text(statement: sql.Composable) -> str:
    return statement.as_string(None)


@lru_cache(maxsize=1024)
def create_stage(schema: str, table: str) -> str:
    return _text(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} AS SELECT * FROM {}.{} WITH NO DATA").format(
            sql.Identifier(stage_name(table)), sql.Identifier(schema), sql.Identifier(table)
        )
    )


@lru_cache(maxsize=1024)
def truncate_stage(table: str) -> str:
    return _text(sql.SQL("TRUNCATE {}").format(sql.Identifier(stage_name(table))))


@lru_cache(maxsize=1024)
def copy_into_stage(table: str, columns: tuple[str, ...]) -> str:
    return _text(
        sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(stage_name(table)), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
    )


@lru_cache(maxsize=1024)
def upsert_from_stage(schema: str, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """INSERT the staged rows; a row already in V2 gets every staged non-key column."""
    non_key = [c for c in columns if c not in key]
    action = (
        sql.SQL("DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in non_key)
        )
        if non_key
        else sql.SQL("DO NOTHING")
    )
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    return _text(
        sql.SQL("INSERT INTO {}.{} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}").format(
            sql.Identifier(schema),
            sql.Identifier(table),
            cols,
            cols,
            sql.Identifier(stage_name(table)),
            sql.SQL(", ").join(map(sql.Identifier, key)),
            action,
        )
    )


@lru_cache(maxsize=1024)
def take_absent_parents(
    schema: str,
    table: str,
    *,
    columns: tuple[str, ...],
    parent: str,
    parent_columns: tuple[str, ...],
    key: tuple[str, ...],
) -> str:
    """DELETE from ``table``'s staging table the rows whose reference (``columns``, all non-null) finds no
    row of ``parent`` (``parent_columns``, its key) in V2, returning their keys. The distinct references
    are probed once each; a null in any column means no reference, as in ``fk.parent_refs``."""
    stage = sql.Identifier(stage_name(table))
    refs = sql.SQL(", ").join(map(sql.Identifier, columns))
    present = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in columns)
    probe = sql.SQL(" AND ").join(
        sql.SQL("p.{} = r.{}").format(sql.Identifier(pc), sql.Identifier(c))
        for c, pc in zip(columns, parent_columns, strict=True)
    )
    match = sql.SQL(" AND ").join(sql.SQL("s.{0} = a.{0}").format(sql.Identifier(c)) for c in columns)
    return _text(
        sql.SQL(
            "WITH absent AS (SELECT r.* FROM (SELECT DISTINCT {refs} FROM {stage} WHERE {present}) r"
            " WHERE NOT EXISTS (SELECT FROM {schema}.{parent} p WHERE {probe} OFFSET 0))"
            " DELETE FROM {stage} s USING absent a WHERE {match} RETURNING {key}"
        ).format(
            refs=refs,
            stage=stage,
            present=present,
            schema=sql.Identifier(schema),
            parent=sql.Identifier(parent),
            probe=probe,
            match=match,
            key=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(k)) for k in key),
        )
    )
