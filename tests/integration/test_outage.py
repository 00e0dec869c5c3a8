"""Guarantee 6, outages: V2 going away under a running worker, and a worker started while V2 is away.
The worker reaches V2 through a TCP proxy, so V2 itself (shared with other tests) keeps running while
the worker sees it vanish. Changes made to V1 meanwhile are applied once V2 is back, by the same
worker process, and V2 ends equal to V1; the worker's log reports the retries without row values."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from replicator.stack.manager import Stack, WorkerProcess
from tests.integration.conftest import eventually
from tests.support.pipeline import Pipeline, start_pipeline
from tests.support.proxy import Proxy

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

MARK = "during-the-outage"


@pytest.fixture(scope="module")
def proxy(stack: Stack) -> Iterator[Proxy]:
    front = Proxy(stack.settings.v2_writer.port)
    try:
        yield front
    finally:
        front.close()


@pytest.fixture(scope="module")
def pipeline(stack: Stack, proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = start_pipeline(
        stack,
        tmp_path_factory,
        group="replicator-outage-test",
        scale=0.02,
        dead_letter_topic=f"replicator.dlq.outage-{uuid.uuid4().hex[:8]}",
    )
    pipe.stop()  # started again below, through the proxy
    writer = stack.settings.v2_writer
    pipe.env.update(
        {
            "REPLICATOR_V2_WRITER__HOST": writer.host,
            "REPLICATOR_V2_WRITER__PORT": str(proxy.port),
            "REPLICATOR_V2_WRITER__DBNAME": writer.dbname,
            "REPLICATOR_V2_WRITER__USER": writer.user,
            "REPLICATOR_V2_WRITER__PASSWORD": writer.password.get_secret_value(),
        }
    )
    pipe.start()
    pipe.drained()
    try:
        yield pipe
    finally:
        pipe.stop()


def worker_pid(pipeline: Pipeline) -> int | None:
    return next((w.pid() for w in pipeline.stack.workers() if w.name == f"worker-{pipeline.worker}"), None)


def worker_log(pipeline: Pipeline, since: int = 0) -> str:
    """The worker's log from byte ``since`` (the file outlives this module's workers)."""
    worker = WorkerProcess(f"worker-{pipeline.worker}", pipeline.stack.layout)
    with worker.log_path.open("rb") as log:
        log.seek(since)
        return log.read().decode(errors="replace")


def log_size(pipeline: Pipeline) -> int:
    return len(worker_log(pipeline).encode())


def change_v1(pipeline: Pipeline, mark: str) -> None:
    with pipeline.v1() as v1:
        v1.execute(
            "UPDATE customers SET phone = %s WHERE id IN (SELECT id FROM customers ORDER BY id LIMIT 5)",
            [mark],
        )


def test_v2_going_away_under_a_running_worker_is_retried_and_nothing_is_lost(
    pipeline: Pipeline, proxy: Proxy
) -> None:
    pid, start = worker_pid(pipeline), log_size(pipeline)
    proxy.cut()
    try:
        change_v1(pipeline, MARK)
        eventually(lambda: "batch not applied, retrying" in worker_log(pipeline, start), timeout=60)
        time.sleep(3)  # a few more retries against the closed door
        assert worker_pid(pipeline) == pid and pipeline.lag() > 0
    finally:
        proxy.restore()
    pipeline.drained(timeout=120)
    assert worker_pid(pipeline) == pid  # the same process: retried, not restarted
    pipeline.assert_v2_is_v1_through_mapping()
    assert MARK not in worker_log(pipeline)  # the log never carries row values


def test_a_worker_started_while_v2_is_away_waits_for_it(pipeline: Pipeline, proxy: Proxy) -> None:
    pipeline.stop()
    start = log_size(pipeline)
    proxy.cut()
    try:
        pipeline.start()
        eventually(lambda: "cannot start: PostgreSQL unreachable" in worker_log(pipeline, start), timeout=60)
        change_v1(pipeline, MARK + "-2")
        time.sleep(3)
        pid = worker_pid(pipeline)
        assert pid is not None and any(w.running() for w in pipeline.stack.workers())
    finally:
        proxy.restore()
    pipeline.drained(timeout=180)
    assert worker_pid(pipeline) == pid
    pipeline.assert_v2_is_v1_through_mapping()
