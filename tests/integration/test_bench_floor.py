"""Benchmark system p, the Python COPY floor, on the real stack: it copies every V1 row exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bench.context import Bench
from bench.systems.floor import NAME, FloorSystem
from replicator.stack.manager import Stack
from tests.support.bench import drop_database, seeded_bench

pytestmark = pytest.mark.integration

SCALE = 0.01


def _digest(conn: psycopg.Connection[Any], table: str) -> tuple[int, str]:
    """Row count and an order-independent digest of every row (never the rows themselves)."""
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM public.{} r"
    )
    row = conn.execute(query.format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


@pytest.fixture(scope="module")
def bench(stack: Stack) -> Iterator[Bench]:
    bench = seeded_bench(stack, SCALE)
    yield bench
    drop_database(bench, NAME)


def test_the_floor_copies_every_row_exactly_and_reports_its_cost(bench: Bench) -> None:
    """Both processes' shares together are V1, row for row and value for value (a share filter that
    dropped or doubled rows would make the floor fast and wrong); its CPU and RSS are reported."""
    system = FloorSystem()
    system.setup(bench)
    assert not system.synced(bench), "synced before it started"
    system.start(bench)
    assert system.synced(bench)
    with bench.v1() as v1, bench.v2(NAME) as target:
        expected = {t: _digest(v1, t) for t in bench.tables}
        assert all(count > 0 for count, _ in expected.values())
        assert {t: _digest(target, t) for t in bench.tables} == expected
    cpu_s, rss_mb = system.start_usage()["floor"]
    assert cpu_s > 0 and rss_mb > 0
    system.teardown(bench)
