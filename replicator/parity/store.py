"""Parity results kept in V2 (``replicator.parity_result``), so ``report`` can show the last run.

The table is created by this module with the admin role (``sql/v2_parity.sql``, idempotent). Each run
replaces the rows of its kind in one transaction: an endpoint dropped from the inventory disappears.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

Kind = Literal["calculation", "endpoint"]


@dataclass(frozen=True, slots=True)
class StoredResult:
    kind: str
    name: str
    status: str
    detail: dict[str, Any]
    run_id: str
    checked_at: datetime


def ensure_table(conn: psycopg.Connection[Any]) -> None:
    text = resources.files("replicator.parity").joinpath("sql/v2_parity.sql").read_text(encoding="utf-8")
    with conn.transaction():
        conn.execute(text)


def save(conn: psycopg.Connection[Any], kind: Kind, results: list[dict[str, Any]]) -> str:
    """Replace the stored results of ``kind`` with ``results`` (each with ``name`` and ``status``)."""
    ensure_table(conn)
    run_id = uuid.uuid4().hex
    with conn.transaction():
        conn.execute("DELETE FROM replicator.parity_result WHERE kind = %s", [kind])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO replicator.parity_result (kind, name, status, detail, run_id) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(kind, r["name"], r["status"], Jsonb(r), run_id) for r in results],
            )
    return run_id


def load(conn: psycopg.Connection[Any], kind: Kind) -> list[StoredResult]:
    """The stored results of ``kind`` (empty when never run or the table does not exist)."""
    if conn.execute("SELECT to_regclass('replicator.parity_result')").fetchone() in (None, (None,)):
        return []
    rows = conn.execute(
        "SELECT kind, name, status, detail, run_id, checked_at FROM replicator.parity_result "
        "WHERE kind = %s ORDER BY name",
        [kind],
    ).fetchall()
    return [StoredResult(*row) for row in rows]
