"""The pipeline's own state in V2's ``replicator`` schema, as a whole: what a new epoch of replication
(a reseed, a load that starts over) must find empty.

Positions of the stream and of a load are comparable only within one epoch. A row version or a parked
item the stream left (commit LSN > 0) sorts above every row of a later snapshot (commit LSN 0), although
the snapshot is newer: a load over them would skip the rows the stream had touched as stale, or apply an
old parked change after the snapshot's row. So the load refuses while they exist (``stream_state``), and
starting over empties the state first (``truncate_state``): the books restart with the new epoch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import psycopg

__all__ = ["STATE_TABLES", "StreamState", "stream_state", "truncate_state"]

STATE_TABLES = ("row_version", "parked", "parked_wait", "ledger", "progress", "verification")

Conn = psycopg.Connection[tuple[Any, ...]]

STREAM_STATE_SQL = """
SELECT (SELECT count(*) FROM replicator.row_version WHERE tbl = ANY(%(tables)s)),
       (SELECT count(*) FROM replicator.parked WHERE tbl = ANY(%(tables)s) AND commit_lsn > 0)
"""


class StreamState(NamedTuple):
    """What the stream left for a mapping's V2 tables."""

    versions: int
    parked: int


def stream_state(conn: Conn, tables: list[str]) -> StreamState:
    """Row versions and stream-parked changes of ``tables``; none before the schema is bootstrapped."""
    if not _bootstrapped(conn):
        return StreamState(0, 0)
    row = conn.execute(STREAM_STATE_SQL, {"tables": tables}).fetchone()
    return StreamState(int(row[0]), int(row[1])) if row else StreamState(0, 0)


def truncate_state(conn: Conn) -> None:
    """Every table of the pipeline's state emptied, if the schema is bootstrapped (an admin's right:
    TRUNCATE is not DML)."""
    if _bootstrapped(conn):
        conn.execute("TRUNCATE " + ", ".join(f"replicator.{t}" for t in STATE_TABLES))


def _bootstrapped(conn: Conn) -> bool:
    present = conn.execute("SELECT to_regclass('replicator.row_version') IS NOT NULL").fetchone()
    return bool(present and present[0])
