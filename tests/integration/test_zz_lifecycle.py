"""Stack lifecycle: `down` stops exactly what `up` started; `up` again resumes where it left off.

Runs last in the session (file name) because it restarts the shared stack.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from replicator.stack.manager import Stack
from replicator.stack.process import pid_alive
from tests.integration.conftest import SMOKE_ENV, SMOKE_WORKER, eventually

pytestmark = pytest.mark.integration


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
