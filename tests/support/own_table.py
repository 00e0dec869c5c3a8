"""A table of a test's own, in V1 and V2, replicated by a worker of its own (mapping, consumer group,
dead-letter topic): what such a test breaks in V1 or V2 touches no other test's worker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from replicator.stack.manager import Stack, WorkerProcess
from tests.integration.conftest import eventually


@dataclass
class OwnTable:
    stack: Stack
    table: str
    index: int
    process: WorkerProcess
    dead_letter_topic: str
    env: dict[str, str]

    @property
    def mapping_path(self) -> Path:
        return Path(self.env["REPLICATOR_MAPPING_PATH"])

    def v1(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.stack.settings.v1_admin.conninfo(), autocommit=True)

    def v2(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.stack.settings.v2_admin.conninfo(), autocommit=True)

    def rows(self, side: str, *statements: str) -> list[tuple[Any, ...]]:
        """Run ``statements`` on ``side`` ("v1" or "v2") in one session; the last one's rows."""
        with self.v1() if side == "v1" else self.v2() as conn:
            for statement in statements[:-1]:
                conn.execute(statement.encode())
            return conn.execute(statements[-1].encode()).fetchall()

    def replicator(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``replicator ARGS`` with this table's mapping, consumer group and dead-letter topic."""
        return subprocess.run(
            [sys.executable, "-m", "replicator", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def v2_rows(self) -> dict[int, tuple[Any, ...]]:
        with self.v2() as v2:
            query = sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(self.table))
            return {row[0]: row[1:] for row in v2.execute(query)}

    def ready(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.stack.worker_port(self.index)}/ready"
        reply: dict[str, Any] = httpx.get(url, timeout=5).json()
        return reply

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.stack.worker_port(self.index)}/metrics", timeout=5).text

    def log_size(self) -> int:
        return self.process.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        return self.process.log_path.read_bytes()[offset:].decode(errors="replace")


@contextmanager
def own_table(stack: Stack, directory: Path, *, table: str, columns: str, index: int) -> Iterator[OwnTable]:
    """Create ``table (columns)`` in V1 and V2 (an identity mapping of it), start worker ``index`` for it
    and wait until it owns partitions; the worker is stopped at the end. ``columns`` is DDL: the first
    column is the integer key."""
    settings = stack.settings
    ddl = sql.SQL("CREATE TABLE IF NOT EXISTS public.{} ({})").format(sql.Identifier(table), sql.SQL(columns))
    names = [c.split()[0] for c in columns.split(",")]
    for endpoint in (settings.v1_admin, settings.v2_admin):
        with psycopg.connect(endpoint.conninfo(), autocommit=True) as conn:
            conn.execute(ddl)
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON public.{} TO {}").format(
                sql.Identifier(table), sql.Identifier(settings.v2_writer.user)
            )
        )
    mapping = directory / f"{table}.yaml"
    mapping.write_text(
        f"version: 1\ntables:\n  - name: {table}\n    source: {table}\n    target: {table}\n"
        f"    key: [{names[0]}]\n    columns: {{{', '.join(f'{n}: {n}' for n in names)}}}\n"
    )
    dead_letter_topic = f"replicator.dlq.{table}-{uuid.uuid4().hex[:8]}"
    env = {
        "REPLICATOR_MAPPING_PATH": str(mapping),
        "REPLICATOR_CONSUMER_GROUP": f"replicator-{table}",
        "REPLICATOR_DEAD_LETTER_TOPIC": dead_letter_topic,
    }
    process = stack.start_worker(index, env=env)
    try:
        eventually(lambda: stack.worker_assigned(index), timeout=120)
        yield OwnTable(stack, table, index, process, dead_letter_topic, env)
    finally:
        process.stop()


def own_table_fixture(*, table: str, columns: str, index: int) -> Any:
    """A module-scoped fixture of ``own_table`` (``items = own_table_fixture(...)`` in a test module)."""

    @pytest.fixture(scope="module")
    def fixture(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnTable]:
        with own_table(
            stack, tmp_path_factory.mktemp(table), table=table, columns=columns, index=index
        ) as own:
            yield own

    return fixture
