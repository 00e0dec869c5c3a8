"""What every benchmark step shares: the running stack, its settings, the replicated V1 tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.model import Mapping, load_mapping
from replicator.settings import Settings
from replicator.stack.manager import Stack, open_stack

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass
class Bench:
    stack: Stack
    mapping: Mapping
    scale: float

    @classmethod
    def open(cls, *, scale: float) -> Bench:
        stack = open_stack()
        stack.up()
        return cls(stack=stack, mapping=load_mapping(stack.settings.mapping_path), scale=scale)

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    @property
    def tables(self) -> list[str]:
        """The V1 tables every system replicates: the sources of the demo mapping."""
        return sorted({t.source for t in self.mapping.tables})

    def v1(self) -> Conn:
        """A superuser connection to V1 (autocommit)."""
        return psycopg.connect(self.settings.v1_admin.conninfo(), autocommit=True)

    def v2(self, dbname: str | None = None) -> Conn:
        """A superuser connection to a database of the V2 cluster (autocommit)."""
        return psycopg.connect(self.settings.v2_admin.conninfo(dbname=dbname), autocommit=True)

    def v1_lsn(self) -> str:
        with self.v1() as v1:
            return str(v1.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]

    def v1_counts(self) -> dict[str, int]:
        with self.v1() as v1:
            return {t: count_rows(v1, "public", t) for t in self.tables}


def count_rows(conn: Conn, schema: str, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0
