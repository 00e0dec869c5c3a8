"""A real local stack, started once per test session through the same code as `replicator stack up`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from replicator.connect.register import register_connector
from replicator.settings import Settings
from replicator.stack.manager import Stack, open_stack
from replicator.stack.process import pid_alive

SMOKE_DDL = """
CREATE TABLE IF NOT EXISTS public.smoke_items (
    id integer PRIMARY KEY,
    name text NOT NULL,
    price numeric(12, 2),
    tags text[]
)
"""


SMOKE_WORKER = 9
SMOKE_ENV = {
    "REPLICATOR_MAPPING_PATH": str(Path(__file__).with_name("smoke_mapping.yaml")),
    "REPLICATOR_CONSUMER_GROUP": "replicator-smoke",
}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """A fresh stack: purged, started, smoke tables created, connector registered, a smoke worker."""
    stack = open_stack()
    stack.down()
    stack.purge()
    stack.up()
    for endpoint in (stack.settings.v1_admin, stack.settings.v2_admin):
        with psycopg.connect(endpoint.conninfo(), autocommit=True) as conn:
            conn.execute(SMOKE_DDL)
    register_connector(stack.settings.connect_url)
    stack.start_worker(SMOKE_WORKER, env=SMOKE_ENV)
    yield stack
    pids = [s.pid for s in stack.status() if s.pid is not None]
    stack.down()
    assert not [p for p in pids if pid_alive(p)], "stack down left processes running"


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return stack.settings


@pytest.fixture
def v1(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def v2(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as conn:
        yield conn


def eventually(check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll until ``check()`` returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout:.0f}s; last value: {last!r}")
