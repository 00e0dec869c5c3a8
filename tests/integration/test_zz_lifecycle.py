"""Stack lifecycle: a broker outage under a running worker; `down` stops exactly what `up` started;
`up` again resumes where it left off.

Runs last in the session (file name) because it stops parts of the shared stack.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from replicator.stack import jvm
from replicator.stack.manager import Stack, WorkerProcess
from replicator.stack.process import pid_alive
from tests.integration.conftest import SMOKE_ENV, SMOKE_WORKER, eventually

pytestmark = pytest.mark.integration


def test_a_broker_outage_under_a_running_worker_is_waited_out(stack: Stack) -> None:
    """Kafka stopped for 15 s (guarantee 6): the worker keeps running, the same process, and a change
    V1 made during the outage reaches V2 once the broker is back (Debezium's task too survives). The
    client's ten-a-second connection errors reach the log once (``worker.quiet``)."""
    worker = WorkerProcess(f"worker-{SMOKE_WORKER}", stack.layout)
    pid = worker.pid()
    assert pid is not None and pid_alive(pid)
    eventually(lambda: stack.worker_assigned(SMOKE_WORKER), timeout=60)  # running, not starting
    logged = worker.log_path.stat().st_size
    jvm.broker(stack.settings, stack.layout).stop()
    with psycopg.connect(stack.settings.v1_admin.conninfo(), autocommit=True) as v1:
        v1.execute("INSERT INTO smoke_items VALUES (400, 'during-kafka-outage', 4.00, NULL)")
    time.sleep(15)
    assert pid_alive(pid), "the worker exited during the broker outage"
    with worker.log_path.open("rb") as log:
        log.seek(logged)
        during = log.read().decode(errors="replace")
    assert 1 <= during.count("Unable connect to node") <= 3, during[-2000:]
    stack.up()  # starts what is not running: the broker

    def applied(conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute("SELECT name FROM smoke_items WHERE id = 400").fetchone()
        return row == ("during-kafka-outage",)

    with psycopg.connect(stack.settings.v2_admin.conninfo(), autocommit=True) as v2:
        eventually(lambda: applied(v2), timeout=120)
    assert worker.pid() == pid and pid_alive(pid)


def test_down_leaves_no_process_and_up_resumes_replication(stack: Stack) -> None:
    """After `down` no pid of the stack is alive; after `up` a change made while down still reaches V2."""
    pids = {s.name: s.pid for s in stack.status() if s.pid is not None}
    assert set(pids) >= {"postgres-v1", "postgres-v2", "kafka", "connect", f"worker-{SMOKE_WORKER}"}
    stack.down()
    assert {n: p for n, p in pids.items() if pid_alive(p)} == {}
    assert all(not s.running for s in stack.status())

    stack.up()
    with psycopg.connect(stack.settings.v1_admin.conninfo(), autocommit=True) as v1:
        v1.execute("INSERT INTO smoke_items VALUES (500, 'after-restart', 5.00, NULL)")
    stack.start_worker(SMOKE_WORKER, env=SMOKE_ENV)

    def applied(conn: psycopg.Connection[Any]) -> bool:
        return conn.execute("SELECT name FROM smoke_items WHERE id = 500").fetchone() == ("after-restart",)

    with psycopg.connect(stack.settings.v2_admin.conninfo(), autocommit=True) as v2:
        eventually(lambda: applied(v2), timeout=120)
