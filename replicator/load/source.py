"""V1 at one consistent point: the connector's replication slot, created with an exported snapshot.

``CREATE_REPLICATION_SLOT … (SNAPSHOT 'export')`` on a replication connection returns the slot's
consistent point and the name of a snapshot of exactly that point. Every V1 transaction committed
before the point is in the snapshot; every one committed after it will be decoded from the slot. So
reading V1 under the snapshot, then starting Debezium on that slot with ``snapshot.mode=no_data``,
loses nothing and sees nothing twice. The snapshot lives while the creating connection stays open and
idle; ``exported_snapshot`` holds it for the ``with`` block.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql

from replicator.errors import ReplicatorError, TerminalError
from replicator.mapping.catalog import CatalogTable
from replicator.sink.v1 import v1_row_columns

__all__ = [
    "Conn",
    "LoadError",
    "Share",
    "Snapshot",
    "exported_snapshot",
    "read_table",
    "share_filter",
    "snapshot_reader",
]

Conn = psycopg.Connection[tuple[Any, ...]]


class LoadError(TerminalError):
    """The initial load cannot start or go on; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    slot: str
    name: str  # the exported snapshot's id, for SET TRANSACTION SNAPSHOT
    lsn: int  # the slot's consistent point
    lsn_text: str
    taken_us: int  # wall clock when the slot was created: the loaded rows' commit time


def _parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@contextmanager
def exported_snapshot(conninfo: str, slot: str) -> Iterator[Snapshot]:
    """Create logical replication slot ``slot`` (pgoutput) and hold its exported snapshot."""
    try:
        conn = psycopg.connect(conninfo, replication="database", autocommit=True)
    except psycopg.OperationalError as exc:
        raise ReplicatorError(f"V1 refused a replication connection: {type(exc).__name__}") from None
    try:
        # Replication commands need the simple query protocol: libpq's PQexec.
        command = sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')").format(
            sql.Identifier(slot)
        )
        result = conn.pgconn.exec_(command.as_bytes(conn))
        if result.status != pq.ExecStatus.TUPLES_OK:
            sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
            if sqlstate == b"42710":
                raise LoadError(
                    f"replication slot {slot} already exists: the initial load creates the connector's slot"
                    " itself, before the connector's first start. If the connector never ran, drop the slot"
                    f" (SELECT pg_drop_replication_slot('{slot}')) or rerun with --replace-slot; if it did,"
                    " V2 is already being replicated and needs no initial load"
                )
            message = (result.error_message or b"").decode(errors="replace").strip()
            raise LoadError(f"cannot create replication slot {slot}: {message}")
        lsn_text = (result.get_value(0, 1) or b"").decode()
        yield Snapshot(
            slot=slot,
            name=(result.get_value(0, 2) or b"").decode(),
            lsn=_parse_lsn(lsn_text),
            lsn_text=lsn_text,
            taken_us=int(time.time() * 1_000_000),
        )
    finally:
        conn.close()


SIZES_SQL = """
SELECT c.relname, CASE c.relkind WHEN 'p'
    THEN (SELECT coalesce(sum(pg_table_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t)
    ELSE pg_table_size(c.oid) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = ANY(%s)
"""


def table_sizes(conninfo: str, schema: str, tables: list[str]) -> dict[str, int]:
    """Bytes on disk of each V1 table (with its TOAST), by name; a partitioned table's are its
    partitions' (``pg_table_size`` of the parent alone is 0, which would make it a small table)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return {str(name): int(size) for name, size in conn.execute(SIZES_SQL, [schema, tables])}


@contextmanager
def snapshot_reader(conninfo: str, snapshot: Snapshot) -> Iterator[Conn]:
    """A V1 connection inside a read-only REPEATABLE READ transaction of ``snapshot``."""
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot.name)))
        yield conn


@dataclass(frozen=True, slots=True)
class Share:
    """The rows one loading process reads: those whose key hashes to ``index`` of ``count``."""

    index: int
    count: int


def share_filter(primary_key: Sequence[str], share: Share) -> sql.Composable:
    """`` WHERE …`` keeping the rows whose key hashes to ``share`` (nothing for a single share); a table
    without a key is read whole by share 0."""
    if share.count == 1:
        return sql.SQL("")
    if not primary_key:
        return sql.SQL(" WHERE {}").format(sql.Literal(share.index == 0))
    key = sql.SQL(", ").join(sql.Identifier(c) for c in primary_key)
    return sql.SQL(" WHERE (hashtext(ROW({})::text) & 2147483647) % {} = {}").format(
        key, sql.Literal(share.count), sql.Literal(share.index)
    )


def read_table(
    conn: Conn, schema: str, table: CatalogTable, *, batch_rows: int, share: Share = Share(0, 1)
) -> Iterator[Sequence[dict[str, Any]]]:
    """The rows of ``table`` in primary-key order, ``batch_rows`` at a time, as dicts of Python values
    as the stream delivers them once decoded (``sink.v1.v1_row_columns``). ``share`` keeps the rows
    whose key hashes to it, so that its ``count`` processes read a table between them, each row once."""
    columns = v1_row_columns(table)
    key = sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
    where = share_filter(table.primary_key, share)
    order = sql.SQL(" ORDER BY {}").format(key) if table.primary_key else sql.SQL("")
    query = sql.SQL("SELECT {} FROM {}{}{}").format(columns, sql.Identifier(schema, table.name), where, order)
    names = [c.name for c in table.columns]
    with conn.cursor(name=f"load_{table.name}") as cur:
        cur.itersize = batch_rows
        cur.execute(query)
        while rows := cur.fetchmany(batch_rows):
            yield [dict(zip(names, row, strict=True)) for row in rows]
