"""Is a parent row present in V1? Asked before an orphan policy is applied (a parked child's parent
may exist in V1 and simply not have arrived yet)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.model import Mapping as MappingModel
from replicator.mapping.sql import copied_column
from replicator.pipeline.fk import ParentRef, RowId


def v1_presence(
    conn: psycopg.Connection[tuple[Any, ...]], mapping: MappingModel, refs: Mapping[RowId, ParentRef]
) -> dict[RowId, bool]:
    """For each ref: True when some V1 source of its V2 parent table holds a row with that key.

    A parent whose key is computed by a transform cannot be looked up in V1 and counts as absent.
    """
    out: dict[RowId, bool] = {}
    for rid, ref in refs.items():
        found = False
        for source in mapping.mappings_for_target(ref.table):
            columns = [copied_column(source, k) for k in source.key]
            if any(c is None for c in columns):
                continue
            statement = sql.SQL("SELECT 1 FROM {}.{} WHERE {} LIMIT 1").format(
                sql.Identifier(mapping.source_schema),
                sql.Identifier(source.source),
                sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns if c),
            )
            if conn.execute(statement, list(ref.key)).fetchone() is not None:
                found = True
                break
        out[rid] = found
    return out
