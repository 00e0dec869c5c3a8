"""A minimal identity apply path: V1 table → V2 table of the same name and columns.

Used by the smoke tests of the local stack. The mapping-aware, FK-aware, position-guarded apply path
replaces it (see the replication-core issue); its decoder (replicator.pipeline.envelope) is shared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from replicator.pipeline.envelope import Heartbeat, Op, Record, RowChange, Tombstone
from replicator.sink import statements


@dataclass(frozen=True, slots=True)
class TableKeys:
    """Primary-key columns of each V2 table in one schema."""

    schema: str
    keys: dict[str, tuple[str, ...]]

    @classmethod
    def read(cls, conn: psycopg.Connection[tuple[object, ...]], schema: str) -> TableKeys:
        rows = conn.execute(
            """
            SELECT tc.table_name, kcu.column_name
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu
              ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
            WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = %s
            ORDER BY tc.table_name, kcu.ordinal_position
            """,
            [schema],
        ).fetchall()
        keys: dict[str, list[str]] = {}
        for table, column in rows:
            keys.setdefault(str(table), []).append(str(column))
        return cls(schema=schema, keys={t: tuple(c) for t, c in keys.items()})


def apply_batch(
    conn: psycopg.Connection[tuple[object, ...]], keys: TableKeys, records: Iterable[Record]
) -> int:
    """Apply records in order in one transaction; returns how many row changes were written."""
    written = 0
    with conn.transaction(), conn.cursor() as cur:
        for record in records:
            if isinstance(record, Tombstone | Heartbeat):
                continue
            assert isinstance(record, RowChange)
            key = keys.keys.get(record.table)
            if key is None:
                continue
            if record.op is Op.DELETE:
                source = record.before or record.key
                stmt, params = statements.delete(keys.schema, record.table, {k: source[k] for k in key})
            else:
                assert record.after is not None
                stmt, params = statements.upsert(keys.schema, record.table, record.after, key)
            cur.execute(stmt, params)
            written += 1
    return written
