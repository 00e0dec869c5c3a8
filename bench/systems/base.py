"""What a compared system must offer the benchmark, and the mirror tables shared by a0, b and c."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Protocol

from psycopg import sql

from bench.context import Bench
from replicator.demo.load import split_schema
from replicator.stack.layout import REPO_ROOT

V1_SCHEMA = REPO_ROOT / "schemas" / "v1" / "schema.sql"


class System(Protocol):
    """One replication system, driven by the benchmark. Every method is blocking and idempotent where
    it can be; none may leave anything running after ``teardown``."""

    key: str
    """Short id used in tables and JSON: "a", "a0", "b", "c"."""
    label: str
    """Human-readable name, e.g. "native logical replication"."""

    def setup(self, bench: Bench) -> None:
        """Drop whatever an earlier run left (targets, slots, subscriptions, connectors, groups) and create
        empty target tables. Nothing replicates yet."""

    def start(self, bench: Bench) -> None:
        """Begin replicating: the initial sync of V1's current rows, then streaming."""

    def synced(self, bench: Bench) -> bool:
        """True once the initial sync is complete: every V1 row present when ``start`` ran is committed
        in the target."""

    def pause(self, bench: Bench) -> None:
        """Stop applying changes to the target (the consumers). Whatever captures from V1 keeps running
        when it is a separate process; changes accumulate as a backlog."""

    def resume(self, bench: Bench) -> None:
        """Start applying again."""

    def caught_up(self, bench: Bench, lsn: str) -> bool:
        """True once every change V1 committed at or before ``lsn`` is committed in the target."""

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        """(database on the V2 cluster, table) that receives ``v1_table``'s rows, same primary key."""

    def processes(self, bench: Bench) -> dict[str, list[int]]:
        """Root pids of processes this system owns exclusively (e.g. {"workers": [...]}) for CPU and RSS
        accounting. Shared components (PostgreSQL V1 and V2, Kafka, Connect) are measured by the
        benchmark itself."""

    def start_usage(self) -> dict[str, tuple[float, float]]:
        """CPU seconds and peak RSS MB of short-lived processes the last ``start`` ran to completion (the
        product's initial load), by component; ``processes`` cannot name them, they have exited."""

    def rows_committed_at(self) -> float | None:
        """``time.monotonic()`` when the last ``start`` had every V1 row committed in the target and nothing
        waiting, when the system knows it before ``synced`` holds (the product: its load's end, before
        the workers start); None otherwise."""

    def teardown(self, bench: Bench) -> None:
        """Stop replicating and remove slots, subscriptions, connectors; the stack keeps running."""


def mirror_database(bench: Bench, dbname: str) -> None:
    """(Re)create ``dbname`` on the V2 cluster holding V1's replicated tables: same columns, types and
    primary keys; no foreign keys or secondary indexes (those are V1's post-data)."""
    with bench.v2("postgres") as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    pre_data = split_schema(V1_SCHEMA.read_text())[0]
    with bench.v2(dbname) as target:
        target.execute(pre_data.encode())


class CopyOnce:
    """A reference measured on the initial sync only: ``start`` runs one copying command to its end (its
    report, one JSON object, gives the copy's CPU and peak RSS); nothing streams afterwards."""

    key: str
    usage_label: str = "copy"

    def __init__(self) -> None:
        self._usage: dict[str, tuple[float, float]] = {}

    def run_copy(self, command: list[str]) -> None:
        done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{self.key}'s copy failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        report = json.loads(done.stdout)
        self._usage = {self.usage_label: (float(report["cpu_s"]), float(report["peak_rss_mb"]))}

    def pause(self, bench: Bench) -> None:
        raise NotImplementedError(f"{self.key} measures the initial sync only: it does not stream")

    def resume(self, bench: Bench) -> None:
        raise NotImplementedError(f"{self.key} measures the initial sync only: it does not stream")

    def caught_up(self, bench: Bench, lsn: str) -> bool:
        raise NotImplementedError(f"{self.key} measures the initial sync only: it does not stream")

    def processes(self, bench: Bench) -> dict[str, list[int]]:
        return {}  # the copy has exited when ``start`` returns: ``start_usage`` has its CPU

    def start_usage(self) -> dict[str, tuple[float, float]]:
        return dict(self._usage)

    def rows_committed_at(self) -> float | None:
        return None  # ``start`` returns with every row committed: the sync's own time says it
