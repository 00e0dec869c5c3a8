"""Is a parent row present in V1? Asked before an orphan policy is applied (a parked child's parent
may exist in V1 and simply not have arrived yet)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.catalog import CatalogTable
from replicator.mapping.model import Mapping as MappingModel
from replicator.mapping.sql import copied_column, filter_sql
from replicator.pipeline.encode import text_columns
from replicator.pipeline.fk import ParentRef, RowId


def v1_row_columns(table: CatalogTable) -> sql.Composable:
    """The select list that reads a V1 row as the stream delivers it once decoded (``RowDecoder``):
    the text family, json, enums, interval, … as their text, everything else typed by psycopg."""
    as_text = text_columns(table)
    return sql.SQL(", ").join(
        sql.SQL("{}::text{} AS {}").format(
            sql.Identifier(c.name), sql.SQL("[]" if c.is_array else ""), sql.Identifier(c.name)
        )
        if c.name in as_text
        else sql.Identifier(c.name)
        for c in table.columns
    )


def v1_presence(
    conn: psycopg.Connection[tuple[Any, ...]], mapping: MappingModel, refs: Mapping[RowId, ParentRef]
) -> dict[RowId, bool]:
    """For each ref: True when some V1 source of its V2 parent table holds a row with that key that
    passes the source's filter — a row that will reach V2. A V1 row the mapping filters out never
    arrives, so a child waiting for it is an orphan, not a child to keep parked.

    A parent whose key is computed by a transform cannot be looked up in V1 and counts as absent.
    (Not followed further: a parent that is itself an orphan dropped by policy counts as present.)
    """
    out: dict[RowId, bool] = {}
    for rid, ref in refs.items():
        found = False
        for source in mapping.mappings_for_target(ref.table):
            columns = [copied_column(source, k) for k in source.key]
            if any(c is None for c in columns):
                continue
            passes, filter_params = filter_sql("p", source.filter)
            statement = sql.SQL("SELECT 1 FROM {}.{} p WHERE {} AND {} LIMIT 1").format(
                sql.Identifier(mapping.source_schema),
                sql.Identifier(source.source),
                sql.SQL(" AND ").join(sql.SQL("p.{} = %s").format(sql.Identifier(c)) for c in columns if c),
                passes,
            )
            if conn.execute(statement, [*ref.key, *filter_params]).fetchone() is not None:
                found = True
                break
        out[rid] = found
    return out
