"""This product, as the benchmark drives it: Debezium (the product's own connector) → Kafka → workers.

Two variants share the connector and its topics, each with its own consumer group and target:
- ``a``: the demo mapping into V2 (renames, transforms, merge, split, 32 relationships with orphans);
- ``a0``: an identity mapping into V1-shaped tables (database ``bench_a0``): the cost of the product
  itself, without the demo's transforms and foreign-key resolution.

Both start from nothing: the connector's offsets, its slot and its topics are removed, so the
initial sync includes Debezium's snapshot, exactly as on a first deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from psycopg import sql

from bench.context import Bench, Conn, count_rows
from bench.resources import cpu_seconds
from bench.systems.base import mirror_database
from replicator.connect.config import load_connector
from replicator.connect.register import register_connector
from replicator.connect.reset import fresh_connector
from replicator.db.bootstrap import bootstrap_v2
from replicator.drain import slot_at
from replicator.kafka_util import end_offsets, group_offsets
from replicator.load.run import default_processes
from replicator.mapping.catalog import read_catalog
from replicator.poll import until
from replicator.sink.state import STATE_TABLES
from replicator.stack.manager import WorkerProcess

PARK_TIMEOUT = "5s"
"""Park timeout in the benchmark's copy of the demo mapping. Parking waits for a parent that arrives
later (another topic, another partition); after the timeout the worker asks V1 and keeps waiting
only while the parent exists there. The demo's 30 s–2 m timeouts would add a constant wait for the
seed's orphans, whose parents never come, to every figure."""

SOURCE_TOPICS = r"v1\.public\..*"


@dataclass
class ProductSystem:
    key: str
    label: str
    dbname: str
    identity: bool
    workers: int = 2
    first_worker: int = 11
    debezium_snapshot: bool = False  # initial sync through Debezium's snapshot instead of `replicator load`
    topics: str | None = None
    """The topics setup and teardown delete with the connector (a regex; None: every topic of its
    prefix). A stack shared with other pipelines (the tests') names only the mapped tables' topics."""
    dead_letter_topic: str | None = None
    """The load's and the workers' dead-letter topic (None: the settings'). A shared stack gives its own."""
    _wanted: int = field(default=0, init=False)
    _start_usage: dict[str, tuple[float, float]] = field(default_factory=dict, init=False)
    _committed_at: float | None = field(default=None, init=False)

    @property
    def group(self) -> str:
        return f"bench-{self.key}"

    @property
    def source_slot(self) -> str:
        return load_connector().slot

    def settings(self) -> dict[str, Any]:
        from replicator.worker.app import BATCH_MAX, BATCH_WITHIN_S

        return {
            "workers": self.workers,
            "mapping": "identity (V1-shaped tables)" if self.identity else "demo mapping",
            "park_timeout": None if self.identity else PARK_TIMEOUT,
            "batch_max": BATCH_MAX,
            "batch_within_s": BATCH_WITHIN_S,
            "connector": load_connector().config.get("plugin.name"),
            "initial_sync": "Debezium snapshot" if self.debezium_snapshot else "replicator load (FK order)",
            "load_processes": default_processes(),
        }

    # ------------------------------------------------------------------ lifecycle

    def setup(self, bench: Bench) -> None:
        self._stop_workers(bench)
        fresh_connector(bench.settings, topics=self.topics)
        _delete_group(bench, self.group)
        if self.identity:
            mirror_database(bench, self.dbname)
            s = bench.settings
            bootstrap_v2(
                s.v2_admin.model_copy(update={"dbname": self.dbname}),
                s.v2_writer.model_copy(update={"dbname": self.dbname}),
            )
            with bench.v1() as v1, bench.v2(self.dbname) as target:
                _grant_writer(target, s.v2_writer.user)
                _write_identity_mapping(v1, bench, self._mapping_path(bench))
        else:
            with bench.v2(self.dbname) as target:
                empty_targets(target, sorted({t.target for t in bench.mapping.tables}))
            _write_bench_mapping(bench.settings.mapping_path, self._mapping_path(bench))

    def start(self, bench: Bench) -> None:
        """The product's initial load (``replicator load``), or with ``debezium_snapshot`` Debezium's own
        snapshot through Kafka; then the workers."""
        self._wanted = sum(bench.v1_counts().values())
        self._committed_at = None
        if self.debezium_snapshot:
            register_connector(bench.settings.connect_url)
        else:
            report = self.load(bench)
            self._start_usage = {"load": (float(report["cpu_s"]), float(report["peak_rss_mb"]))}
            loaded = time.monotonic()
            with bench.v2(self.dbname) as target:
                if count_rows(target, "replicator", "parked") == 0:  # else the workers' sweep finishes it
                    self._committed_at = loaded
        self.resume(bench)

    def load(self, bench: Bench) -> dict[str, Any]:
        """``replicator load`` into this system's target (the connector registered at its end); its
        ``--json`` report."""
        command = [sys.executable, "-m", "replicator", "load", "--json"]
        command += ["--mapping", str(self._mapping_path(bench))]
        done = subprocess.run(
            command, env={**os.environ, **self._env(bench)}, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"replicator load failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def start_usage(self) -> dict[str, tuple[float, float]]:
        return dict(self._start_usage)

    def rows_committed_at(self) -> float | None:
        return self._committed_at

    def synced(self, bench: Bench) -> bool:
        if not self.debezium_snapshot:
            return self._drained(bench)
        captured = sum(end_offsets(bench.settings.kafka_bootstrap, SOURCE_TOPICS).values())
        return captured >= self._wanted and self._drained(bench)

    def pause(self, bench: Bench) -> None:
        self._stop_workers(bench)

    def resume(self, bench: Bench) -> None:
        for index in self._indexes():
            bench.stack.start_worker(index, env=self._env(bench))

    def startup_cpu(self, bench: Bench, *, timeout: float = 120.0) -> float:
        """CPU seconds the workers spend from launch until each owns partitions, with nothing to consume
        (imports, catalogs, the group join): a fixed cost per start, not per event. Paused again after."""
        self.resume(bench)
        until(
            lambda: all(bench.stack.worker_assigned(i) for i in self._indexes()),
            f"{self.key} workers' start",
            timeout,
            interval=0.1,
        )
        cpu = cpu_seconds(self.processes(bench)["workers"])
        self.pause(bench)
        return cpu

    def _env(self, bench: Bench) -> dict[str, str]:
        return {
            "REPLICATOR_MAPPING_PATH": str(self._mapping_path(bench)),
            "REPLICATOR_CONSUMER_GROUP": self.group,
            "REPLICATOR_V2_WRITER__DBNAME": self.dbname,
            "REPLICATOR_V2_ADMIN__DBNAME": self.dbname,
            **({"REPLICATOR_DEAD_LETTER_TOPIC": self.dead_letter_topic} if self.dead_letter_topic else {}),
        }

    def caught_up(self, bench: Bench, lsn: str) -> bool:
        return slot_confirmed(bench, self.source_slot, lsn) and self._drained(bench)

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        if self.identity:
            return self.dbname, v1_table
        targets = {t.target for t in bench.mapping.mappings_for_source(v1_table)}
        if len(targets) != 1:
            raise ValueError(f"{v1_table} maps to {sorted(targets)}: pick a table with one target")
        return self.dbname, targets.pop()

    def processes(self, bench: Bench) -> dict[str, list[int]]:
        pids = [w.pid() for w in self._workers(bench)]
        return {"workers": [p for p in pids if p is not None]}

    def teardown(self, bench: Bench) -> None:
        """Workers stopped, and the connector, its slot and its topics removed: left running, Debezium
        would keep capturing (and spending CPU) while the next system is measured."""
        self._stop_workers(bench)
        fresh_connector(bench.settings, topics=self.topics)

    # ------------------------------------------------------------------ helpers

    def _indexes(self) -> range:
        return range(self.first_worker, self.first_worker + self.workers)

    def _workers(self, bench: Bench) -> list[WorkerProcess]:
        return [WorkerProcess(f"worker-{i}", bench.stack.layout) for i in self._indexes()]

    def _stop_workers(self, bench: Bench) -> None:
        for worker in self._workers(bench):
            worker.stop()

    def _mapping_path(self, bench: Bench) -> Path:
        return bench.settings.state_dir / "bench" / f"mapping-{self.key}.yaml"

    def _drained(self, bench: Bench) -> bool:
        bootstrap = bench.settings.kafka_bootstrap
        ends = end_offsets(bootstrap, SOURCE_TOPICS)
        done = group_offsets(bootstrap, self.group)
        if any(done.get(tp, 0) < end for tp, end in ends.items()):
            return False
        with bench.v2(self.dbname) as target:
            return count_rows(target, "replicator", "parked") == 0


def product_systems() -> list[ProductSystem]:
    return [
        ProductSystem("a", "replicator (demo mapping)", "brokerage", identity=False, first_worker=11),
        ProductSystem("a0", "replicator (identity mapping)", "bench_a0", identity=True, first_worker=21),
    ]


# ---------------------------------------------------------------------- the shared connector


def slot_confirmed(bench: Bench, slot: str, lsn: str) -> bool:
    with bench.v1() as v1:
        return bool(slot_at(v1, slot, lsn))


def _delete_group(bench: Bench, group: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import GroupIdNotFoundError

    admin = KafkaAdminClient(bootstrap_servers=bench.settings.kafka_bootstrap)
    try:
        admin.delete_groups([group])
    except GroupIdNotFoundError:
        pass
    finally:
        admin.close()


# ---------------------------------------------------------------------- targets and mappings


def empty_targets(target: Conn, tables: list[str]) -> None:
    names = [sql.Identifier("public", t) for t in tables]
    state = [sql.Identifier("replicator", t) for t in STATE_TABLES if t != "verification"]
    target.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join([*names, *state])))


def _grant_writer(target: Conn, writer: str) -> None:
    target.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            sql.Identifier(writer)
        )
    )


def _write_bench_mapping(source: Path, path: Path) -> None:
    document = yaml.safe_load(source.read_text())
    document.setdefault("defaults", {})["park_timeout"] = PARK_TIMEOUT
    for relationship in document.get("relationships", []):
        if "park_timeout" in relationship:
            relationship["park_timeout"] = PARK_TIMEOUT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _write_identity_mapping(v1: Conn, bench: Bench, path: Path) -> None:
    catalog = read_catalog(v1, "public")
    tables = []
    for name in bench.tables:
        table = catalog.tables[name]
        tables.append(
            {
                "name": name,
                "source": name,
                "target": name,
                "key": list(table.primary_key),
                "columns": {c: c for c in table.column_names},
            }
        )
    document = {"version": 1, "source_schema": "public", "target_schema": "public", "tables": tables}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
