"""Guarantee 6, V2 refusing what a running worker writes. A column renamed in V2 under the worker (schema
drift) refuses every row alike: the worker keeps running, commits nothing, says why (log, /ready,
``replicator_apply_retries_total``) without row values, and applies what waited once V2 is fixed. A V2
trigger refusing one row refuses that row: it is dead-lettered (SINK_CONSTRAINT, its SQLSTATE) and the
stream goes on. Before, both crashed the worker with the driver's message in its log.

The test has a table of its own (``refusal_items``, in V1 and V2), its own mapping, consumer group and
dead-letter topic, so nothing it breaks in V2 touches the other tests' workers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from replicator.dlq.topic import DeadLetterTopic
from replicator.stack.manager import Stack, WorkerProcess
from tests.integration.conftest import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

WORKER = 17
GROUP = "replicator-refusals"
DDL = "CREATE TABLE IF NOT EXISTS public.refusal_items (id integer PRIMARY KEY, name text NOT NULL)"
MAPPING = """version: 1
tables:
  - name: refusal_items
    source: refusal_items
    target: refusal_items
    key: [id]
    columns: {id: id, name: name}
"""
SECRET = "s3cret-row-value"


@pytest.fixture(scope="module")
def worker(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = stack.settings
    for endpoint in (settings.v1_admin, settings.v2_admin):
        with psycopg.connect(endpoint.conninfo(), autocommit=True) as conn:
            conn.execute(DDL)
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON public.refusal_items TO {settings.v2_writer.user}"
        )
    mapping = tmp_path_factory.mktemp("refusals") / "mapping.yaml"
    mapping.write_text(MAPPING)
    dlq = f"replicator.dlq.refusals-{uuid.uuid4().hex[:8]}"
    process = stack.start_worker(
        WORKER,
        env={
            "REPLICATOR_MAPPING_PATH": str(mapping),
            "REPLICATOR_CONSUMER_GROUP": GROUP,
            "REPLICATOR_DEAD_LETTER_TOPIC": dlq,
        },
    )
    eventually(lambda: stack.worker_assigned(WORKER), timeout=120)
    try:
        yield {"process": process, "dlq": dlq, "mapping": Path(mapping)}
    finally:
        process.stop()


def insert_v1(stack: Stack, *rows: tuple[int, str]) -> None:
    with psycopg.connect(stack.settings.v1_admin.conninfo(), autocommit=True) as v1:
        for row in rows:
            v1.execute("INSERT INTO refusal_items VALUES (%s, %s)", row)


def v2_names(stack: Stack) -> dict[int, str]:
    with psycopg.connect(stack.settings.v2_admin.conninfo(), autocommit=True) as v2:
        return dict(v2.execute("SELECT * FROM refusal_items").fetchall())  # type: ignore[arg-type]


def ready(stack: Stack) -> dict[str, Any]:
    reply: dict[str, Any] = httpx.get(f"http://127.0.0.1:{stack.worker_port(WORKER)}/ready", timeout=5).json()
    return reply


def log_since(process: WorkerProcess, offset: int) -> str:
    return process.log_path.read_bytes()[offset:].decode(errors="replace")


def test_a_column_renamed_in_v2_under_the_worker_holds_the_stream_until_it_is_fixed(
    stack: Stack, worker: dict[str, Any]
) -> None:
    process: WorkerProcess = worker["process"]
    insert_v1(stack, (1, "before"))
    eventually(lambda: v2_names(stack).get(1) == "before")
    offset = process.log_path.stat().st_size
    with psycopg.connect(stack.settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute("ALTER TABLE refusal_items RENAME COLUMN name TO title")
        try:
            insert_v1(stack, (2, SECRET))
            failure = eventually(lambda: ready(stack)["failures"].get("apply"), timeout=60)
            assert failure.startswith("V2 refused the batch: UndefinedColumn (sqlstate 42703)"), failure
            assert 'column "name" of relation "refusal_items" does not exist' in failure
            time.sleep(3)  # a few retries
            assert process.running(), "the worker must wait for V2, not crash"
            metrics = httpx.get(f"http://127.0.0.1:{stack.worker_port(WORKER)}/metrics", timeout=5).text
            assert 'replicator_apply_retries_total{error="DatabaseRefusedError"}' in metrics
        finally:
            v2.execute("ALTER TABLE refusal_items RENAME COLUMN title TO name")
    eventually(lambda: v2_names(stack).get(2) == SECRET, timeout=90)  # the same process, once V2 is fixed
    assert process.running()
    assert "apply" not in ready(stack)["failures"]
    log = log_since(process, offset)
    assert "V2 refused the batch: UndefinedColumn (sqlstate 42703)" in log
    assert SECRET not in log
    assert "Traceback" not in log


def test_a_row_a_v2_trigger_refuses_is_dead_lettered_and_the_stream_goes_on(
    stack: Stack, worker: dict[str, Any]
) -> None:
    process: WorkerProcess = worker["process"]
    offset = process.log_path.stat().st_size
    with psycopg.connect(stack.settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute(
            "CREATE OR REPLACE FUNCTION refuse_items() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.name LIKE 'refuse%' THEN RAISE EXCEPTION 'refused %', NEW.name; END IF;"
            " RETURN NEW; END $$"
        )
        v2.execute(
            "CREATE TRIGGER refuse_items BEFORE INSERT OR UPDATE ON refusal_items "
            "FOR EACH ROW EXECUTE FUNCTION refuse_items()"
        )
        try:
            insert_v1(stack, (10, f"refuse {SECRET}"), (11, "accepted"))
            eventually(lambda: v2_names(stack).get(11) == "accepted")
            topic = DeadLetterTopic(stack.settings.kafka_bootstrap, worker["dlq"])
            entries = eventually(lambda: [e for e in topic.read() if e.table == "refusal_items"])
        finally:
            v2.execute("DROP TRIGGER refuse_items ON refusal_items")
    assert 10 not in v2_names(stack)
    assert [e.reason for e in entries] == ["SINK_CONSTRAINT"]
    headers = dict(entries[0].headers)
    assert (
        headers["__replicator.missing_ref"]
        == b"V2 rejected a row of refusal_items: sqlstate P0001, constraint None"
    )
    assert process.running()
    assert SECRET not in log_since(process, offset)
