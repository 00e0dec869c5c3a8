"""Benchmark system f, V2's write floor, on the real stack: it writes exactly the rows the product's load
wrote, into V2 with its foreign keys on, as the V2 writer."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bench.context import Bench
from bench.systems.product import ProductSystem, product_systems
from bench.systems.v2floor import V2FloorSystem
from replicator.connect.register import register_connector
from replicator.stack.manager import Stack
from tests.support.bench import seeded_bench
from tests.support.first_sync import mapped_topics

pytestmark = pytest.mark.integration

SCALE = 0.01


def _digests(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every row of each table (never the rows themselves)."""
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM public.{} r"
    )
    out = {}
    for table in tables:
        row = conn.execute(query.format(sql.Identifier(table))).fetchone()
        assert row is not None
        out[table] = (int(row[0]), str(row[1]))
    return out


def test_the_v2_floor_writes_the_products_rows_exactly_with_foreign_keys_on(stack: Stack) -> None:
    """The floor's V2 equals the product load's V2, row for row (a share or a step that dropped or doubled
    rows would make the floor fast and wrong), with every foreign key of V2 enabled throughout."""
    bench: Bench = seeded_bench(stack, SCALE)
    tables = sorted(bench.mapping.target_tables())
    # The stack is shared: remove only the mapped tables' topics (not the smoke worker's) with the
    # connector, its dead letters to a topic of its own (a later module counts the shared topic's), and
    # the connector registered again at the end, as the next modules expect it: streaming from now on,
    # without a snapshot of this module's V1 (a worker of a later module would take it).
    product = replace(
        product_systems()[0],
        topics=mapped_topics(bench.mapping),
        dead_letter_topic=f"replicator.dlq.v2floor-{uuid.uuid4().hex[:8]}",  # not the shared one
    )
    try:
        _floor_equals_load(bench, product, tables)
    finally:
        register_connector(stack.settings.connect_url, overrides={"snapshot.mode": "no_data"})


def _floor_equals_load(bench: Bench, product: ProductSystem, tables: list[str]) -> None:
    product.setup(bench)
    product.load(bench)
    product.teardown(bench)
    with bench.v2() as v2:
        loaded = _digests(v2, tables)
    assert sum(n for n, _ in loaded.values()) > 1000

    system = V2FloorSystem(product)
    system.setup(bench)
    with bench.v2() as v2:
        assert all(n == 0 for n, _ in _digests(v2, tables).values()), "V2 not emptied by setup"
    assert not system.synced(bench)
    system.start(bench)
    assert system.synced(bench)
    with bench.v2() as v2:
        assert _digests(v2, tables) == loaded
        disabled = v2.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint"
            " WHERE c.contype = 'f' AND t.tgenabled <> 'O'"
        ).fetchone()
        assert disabled == (0,)
    cpu_s, rss_mb = system.start_usage()["copy"]
    assert cpu_s > 0 and rss_mb > 0
    system.teardown(bench)
    assert not system.directory(bench).exists()
