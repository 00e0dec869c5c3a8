"""Freezing V1's writes for the cutover, and opening them again.

The freeze makes every new V1 session read-only by default (``ALTER DATABASE … SET
default_transaction_read_only = on``) except the replication role's, whose Debezium connection writes
the heartbeats (a role-in-database setting wins over the database's), then ends the sessions already
open, so that applications reconnect read-only: their writes fail with SQLSTATE 25006. A session
that explicitly asks for a read-write transaction (``SET transaction_read_only = off``) is not
stopped: the freeze holds well-behaved writers, it is not a security boundary.

Opening V1 again resets both settings and ends the sessions opened during the freeze, which would
otherwise stay read-only until they reconnect.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

__all__ = ["end_client_sessions", "freeze", "frozen", "thaw", "write_fence"]

FROZEN_SQL = """
SELECT EXISTS (
    SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
    WHERE d.datname = current_database() AND s.setrole = 0
      AND 'default_transaction_read_only=on' = ANY(s.setconfig))
"""
END_SESSIONS_SQL = """
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND usename <> ALL(%s)
"""


def frozen(v1: psycopg.Connection[Any]) -> bool:
    row = v1.execute(FROZEN_SQL).fetchone()
    return bool(row and row[0])


def freeze(v1: psycopg.Connection[Any], *, exempt_role: str) -> int:
    """Make V1 read-only for every role but ``exempt_role``; returns the sessions ended. Idempotent."""
    return _read_only(v1, exempt_role=exempt_role, on=True)


def thaw(v1: psycopg.Connection[Any], *, exempt_role: str) -> int:
    """Open V1's writes again; returns the (read-only) sessions ended. Idempotent."""
    return _read_only(v1, exempt_role=exempt_role, on=False)


def _read_only(v1: psycopg.Connection[Any], *, exempt_role: str, on: bool) -> int:
    _read_write(v1)
    database, role = sql.Identifier(v1.info.dbname), sql.Identifier(exempt_role)
    if on:
        v1.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(database))
        v1.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE {} SET default_transaction_read_only = off").format(
                role, database
            )
        )
    else:
        v1.execute(sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(database))
        v1.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE {} RESET default_transaction_read_only").format(role, database)
        )
    return end_client_sessions(v1, keep=[exempt_role])


def end_client_sessions(v1: psycopg.Connection[Any], *, keep: list[str]) -> int:
    row = v1.execute(END_SESSIONS_SQL, [keep]).fetchone()
    return int(row[0]) if row else 0


def write_fence(v1: psycopg.Connection[Any], label: str) -> int:
    """Insert a fence row (in a read-write transaction, V1 being frozen) and return the WAL position
    right after its commit: once replication has passed it, V2 holds every change V1 committed before."""
    _read_write(v1)
    v1.execute("INSERT INTO replicator.fence (label) VALUES (%s)", [label])
    row = v1.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    return int(row[0]) if row else 0


def _read_write(v1: psycopg.Connection[Any]) -> None:
    """This session writes, V1 frozen or not (``v1`` is in autocommit)."""
    v1.execute("SET default_transaction_read_only = off")
