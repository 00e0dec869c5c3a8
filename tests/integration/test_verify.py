"""``replicator verify`` on the real pipeline: the demo scenario replicated by one worker (consumer group
``replicator-verify``), then V2 compared with V1 through the mapping — once, resumably, and continuously
while V1 keeps changing."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import typer
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from replicator.cli.verify import verify as verify_command
from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.demo.reset import reset_pipeline
from replicator.drain import wait_drained
from replicator.errors import ConfigError
from replicator.mapping.model import Mapping, load_mapping
from replicator.metrics import Metrics
from replicator.settings import Settings
from replicator.stack.manager import Stack
from replicator.verify.continuous import Cycle, run_continuous
from replicator.verify.run import verify
from replicator.worker.app import source_topics

pytestmark = [pytest.mark.integration]

SCALE = 0.02
WORKER = 1
GROUP = "replicator-verify"
CHUNK_ROWS = 150


@dataclass
class Pipeline:
    stack: Stack
    mapping: Mapping
    mapping_file: Path
    topics: list[str]
    settings: Settings  # own consumer group, own verify state dir

    def v1(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.v1_admin.conninfo(), autocommit=True)

    def v2(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.v2_admin.conninfo(), autocommit=True)

    def drained(self, timeout: float = 180) -> None:
        state = wait_drained(self.settings, self.topics, timeout=timeout)
        assert state.zero, state


@pytest.fixture(scope="module")
def pipeline(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    text = (SCHEMAS_DIR / "mapping.yaml").read_text()
    mapping_file = tmp_path_factory.mktemp("mapping") / "mapping.yaml"
    mapping_file.write_text(re.sub(r"park_timeout: \S+", "park_timeout: 3s", text))
    mapping = load_mapping(mapping_file)
    settings = stack.settings.model_copy(
        update={"consumer_group": GROUP, "state_dir": tmp_path_factory.mktemp("verify-state")}
    )
    topics = source_topics(mapping)
    reset_pipeline(settings, mapping)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=SCALE)
    env = {"REPLICATOR_MAPPING_PATH": str(mapping_file), "REPLICATOR_CONSUMER_GROUP": GROUP}
    stack.start_worker(WORKER, env=env)
    pipe = Pipeline(stack, mapping, mapping_file, topics, settings)
    pipe.drained()
    yield pipe
    for worker in stack.workers():
        if worker.name == f"worker-{WORKER}":
            worker.stop()


def _by_table(results: list[Any]) -> dict[str, Any]:
    return {r.table: r for r in results}


def _reported(results: list[Any]) -> dict[str, list[tuple[str, object, tuple[str, ...]]]]:
    """Per table with a problem: (kind, key, columns) of every reported row."""
    return {
        r.table: sorted(
            (s["kind"], orjson.dumps(s["key"]).decode(), tuple(s.get("columns", ()))) for s in r.sample
        )
        for r in results
        if not r.passed
    }


def test_verify_passes_after_replication(pipeline: Pipeline) -> None:
    """Once replication has drained, every V2 table equals V1 through the mapping, orphans per policy."""
    run = verify(pipeline.settings, pipeline.mapping, chunk_rows=CHUNK_ROWS, restart=True)
    assert _reported(run.results) == {}
    assert run.passed
    tables = _by_table(run.results)
    assert set(tables) == set(pipeline.mapping.target_tables())
    assert tables["audit_logs"].chunks > 3  # chunked, not one big read
    assert all(r.rows_expected == r.rows_actual > 0 for r in run.results)
    with pipeline.v2() as v2:
        rows = dict(v2.execute("SELECT tbl, status FROM replicator.verification").fetchall())
    assert rows == dict.fromkeys(pipeline.mapping.target_tables(), "match")


def test_injected_corruptions_are_reported_with_exactly_their_keys(pipeline: Pipeline) -> None:
    """A changed value, a deleted row and an extra row in V2: exactly those keys, no values, exit code 1."""
    with pipeline.v2() as v2:
        changed = v2.execute("SELECT min(id) FROM customers").fetchone()[0]  # type: ignore[index]
        deleted, extra_from = v2.execute("SELECT min(id), max(id) FROM customer_metadata").fetchone()  # type: ignore[misc]
        extra = extra_from + 100_000
        kept = v2.execute(
            "SELECT id, customer_id, source, data::text, updated_at FROM customer_metadata WHERE id = %s",
            [deleted],
        ).fetchone()
        v2.execute("UPDATE customers SET first_name = first_name || 'CORRUPT' WHERE id = %s", [changed])
        v2.execute("DELETE FROM customer_metadata WHERE id = %s", [deleted])
        v2.execute(
            "INSERT INTO customer_metadata (id, customer_id, source, data, updated_at) "
            "SELECT %s, customer_id, source, data, updated_at FROM customer_metadata WHERE id = %s",
            [extra, extra_from],
        )
    try:
        app = typer.Typer()
        app.command()(verify_command)
        cli = CliRunner().invoke(
            app,
            ["--json", "--chunk-rows", str(CHUNK_ROWS), "--restart", "--mapping", str(pipeline.mapping_file)],
        )
        assert cli.exit_code == 1, cli.output
        assert "CORRUPT" not in cli.output
        report = orjson.loads(cli.stdout)
        assert not report["passed"]
        bad = {t["table"]: t for t in report["tables"] if t["status"] != "match"}
        assert sorted(bad) == ["customer_metadata", "customers"]
        assert bad["customers"]["sample"] == [
            {"kind": "different", "key": {"id": changed}, "columns": ["first_name"]}
        ]
        assert sorted(bad["customer_metadata"]["sample"], key=lambda s: s["kind"]) == [
            {"kind": "extra", "key": {"id": extra}},
            {"kind": "missing", "key": {"id": deleted}},
        ]
        assert (bad["customers"]["different"], bad["customer_metadata"]["missing"]) == (1, 1)
        with pipeline.v2() as v2:
            status = dict(v2.execute("SELECT tbl, status FROM replicator.verification").fetchall())
        assert status["customers"] == "mismatch" and status["networks"] == "match"
    finally:
        with pipeline.v2() as v2:
            v2.execute(
                "UPDATE customers SET first_name = replace(first_name, 'CORRUPT', '') WHERE id = %s",
                [changed],
            )
            v2.execute("DELETE FROM customer_metadata WHERE id = %s", [extra])
            v2.execute(
                "INSERT INTO customer_metadata (id, customer_id, source, data, updated_at) "
                "VALUES (%s, %s, %s, %s::jsonb, %s)",
                list(kept or ()),
            )
    assert verify(pipeline.settings, pipeline.mapping, chunk_rows=CHUNK_ROWS).passed


class _InterruptedError(Exception):
    pass


def test_an_interrupted_run_resumes_only_with_resume_and_restarts_only_with_restart(
    pipeline: Pipeline,
) -> None:
    """A killed run keeps its finished chunks; a plain re-run refuses; --resume completes the same result."""
    full = verify(pipeline.settings, pipeline.mapping, chunk_rows=CHUNK_ROWS)
    calls = 0

    def crash(table: str, done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise _InterruptedError

    with pytest.raises(_InterruptedError):
        verify(pipeline.settings, pipeline.mapping, chunk_rows=CHUNK_ROWS, progress=crash)
    with pytest.raises(ConfigError, match="--resume"):
        verify(pipeline.settings, pipeline.mapping, chunk_rows=CHUNK_ROWS)
    seen: list[str] = []
    resumed = verify(
        pipeline.settings, pipeline.mapping, resume=True, progress=lambda t, d, n: seen.append(t)
    )
    assert resumed.resumed and resumed.passed
    assert [(r.table, r.rows_expected) for r in resumed.results] == [
        (r.table, r.rows_expected) for r in full.results
    ]
    first = pipeline.mapping.target_tables()[0]
    assert first not in seen  # finished before the interruption: not read again


def _copy_row(conn: psycopg.Connection[Any], table: str, source_id: int, new_id: int) -> None:
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
            [table],
        )
    ]
    names = ", ".join(columns)
    conn.execute(
        f"INSERT INTO {table} (id, {names}) SELECT %s, {names} FROM {table} WHERE id = %s",  # noqa: S608
        [new_id, source_id],
    )


def _write_v1_continuously(pipeline: Pipeline, stop: threading.Event, seconds: float) -> int:
    """Updates, inserts and deletes across related tables in a loop (bounded): hot rows included."""
    writes = 0
    deadline = time.monotonic() + seconds
    with pipeline.v1() as v1:
        customers = [r[0] for r in v1.execute("SELECT id FROM customers ORDER BY id LIMIT 20")]
        metadata = v1.execute("SELECT min(id), max(id) FROM customer_metadata").fetchone()
        assert metadata is not None
        template, next_id = metadata[0], metadata[1] + 50_000
        inserted: list[int] = []
        while not stop.is_set() and time.monotonic() < deadline:
            hot = customers[writes % len(customers)]
            v1.execute("UPDATE customers SET first_name = 'w' || %s WHERE id = %s", [writes, hot])
            v1.execute(
                "UPDATE customer_metadata SET data = %s, updated_at = updated_at + interval '1 second' "
                "WHERE customer_id = %s",
                [orjson.dumps({"n": f"{writes}.10", "nested": {"k": [1.5, writes]}}).decode(), hot],
            )
            v1.execute("UPDATE listings SET bedrooms = bedrooms + 1 WHERE id %% 40 = %s", [writes % 40])
            _copy_row(v1, "customer_metadata", template, next_id)
            inserted.append(next_id)
            next_id += 1
            if len(inserted) > 5:
                v1.execute("DELETE FROM customer_metadata WHERE id = %s", [inserted.pop(0)])
            writes += 1
            time.sleep(0.05)
    return writes


def test_continuous_verification_has_no_false_alarm_and_still_catches_corruption(pipeline: Pipeline) -> None:
    """While V1 changes for 75 s, no cycle reports a mismatch — until a row is corrupted in V2, which is
    then reported with exactly its key, and exported as the failed table's gauge."""
    _continuous_scenario(pipeline, write_seconds=75.0)


@pytest.mark.slow
def test_continuous_verification_over_five_minutes_of_writes(pipeline: Pipeline) -> None:
    """The same with five minutes of continuous V1 writes (the parallel run's conditions, longer)."""
    _continuous_scenario(pipeline, write_seconds=300.0)


def _continuous_scenario(pipeline: Pipeline, *, write_seconds: float) -> None:
    stop_writes = threading.Event()
    writes: list[int] = []
    writer = threading.Thread(
        target=lambda: writes.append(_write_v1_continuously(pipeline, stop_writes, write_seconds)),
        daemon=True,
    )
    with pipeline.v2() as v2:
        corrupt = v2.execute("SELECT min(id) FROM networks").fetchone()[0]  # type: ignore[index]
    cycles: list[tuple[float, Cycle]] = []
    corrupted_at: list[float] = []
    stop = threading.Event()
    registry = CollectorRegistry()

    def on_cycle(cycle: Cycle) -> None:
        now = time.monotonic()
        cycles.append((now, cycle))
        if len(cycles) == 2 and not corrupted_at:
            with pipeline.v2() as v2:
                v2.execute(
                    "UPDATE networks SET region = coalesce(region, '') || '#' WHERE id = %s", [corrupt]
                )
            corrupted_at.append(time.monotonic())
        if corrupted_at and not writer.is_alive() and len(cycles) >= 4:
            stop.set()

    tables = ["customers", "customer_metadata", "listings", "networks", "offers"]
    writer.start()
    try:
        run_continuous(
            pipeline.settings,
            pipeline.mapping,
            tables=tables,
            chunk_rows=CHUNK_ROWS,
            interval=0.5,
            fence_timeout=120,
            cycles=40 + int(write_seconds),
            metrics=Metrics(registry),
            on_cycle=on_cycle,
            stop=stop,
        )
    finally:
        stop_writes.set()
        writer.join(timeout=30)
        with pipeline.v2() as v2:
            v2.execute("UPDATE networks SET region = nullif(rtrim(region, '#'), '') WHERE id = %s", [corrupt])
    assert writes and writes[0] > 200, writes
    before = [c for t, c in cycles if not corrupted_at or t < corrupted_at[0]]
    after = [c for t, c in cycles if corrupted_at and t > corrupted_at[0]]
    assert before and after
    for cycle in before:
        assert _reported(cycle.results) == {}, cycle.number
        assert all(r.error is None for r in cycle.results)
    for cycle in after:
        assert _reported(cycle.results) == {
            "networks": [("different", orjson.dumps({"id": corrupt}).decode(), ("region",))]
        }, cycle.number
    # the fence was exercised: differences seen while rows were in flight were re-checked, not reported
    in_flight = sum(r.in_flight for _, c in cycles for r in c.results)
    assert in_flight > 0
    assert registry.get_sample_value("replicator_verification_passed", {"table": "networks"}) == 0
    assert registry.get_sample_value("replicator_verification_passed", {"table": "customers"}) == 1
    assert registry.get_sample_value("replicator_cutover_ready") == 0  # networks does not match
