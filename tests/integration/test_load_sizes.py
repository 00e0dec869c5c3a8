"""The sizes that decide which leading groups the first loading process reads alone
(``load.order.alone``), read from a real PostgreSQL: a partitioned table is as large as its partitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from replicator.load.source import table_sizes
from replicator.settings import Settings

pytestmark = [pytest.mark.integration]


@pytest.fixture
def tables(v1: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    v1.execute("DROP SCHEMA IF EXISTS sizes_test CASCADE")
    v1.execute("CREATE SCHEMA sizes_test")
    v1.execute("CREATE TABLE sizes_test.events (id bigint, body text) PARTITION BY RANGE (id)")
    v1.execute(
        "CREATE TABLE sizes_test.events_1 PARTITION OF sizes_test.events FOR VALUES FROM (0) TO (5000)"
    )
    v1.execute(
        "CREATE TABLE sizes_test.events_2 PARTITION OF sizes_test.events FOR VALUES FROM (5000) TO (10000)"
    )
    v1.execute("INSERT INTO sizes_test.events SELECT i, repeat('x', 200) FROM generate_series(0, 9999) i")
    v1.execute("CREATE TABLE sizes_test.plain AS SELECT * FROM sizes_test.events")
    yield v1  # autocommit
    v1.execute("DROP SCHEMA sizes_test CASCADE")


def test_a_partitioned_table_weighs_what_its_partitions_weigh(
    tables: psycopg.Connection[Any], settings: Settings
) -> None:
    sizes = table_sizes(settings.v1_replication.conninfo(), "sizes_test", ["events", "plain", "absent"])
    parts = tables.execute(
        "SELECT sum(pg_table_size(c.oid)) FROM pg_class c"
        " WHERE c.relname IN ('events_1', 'events_2') AND c.relnamespace = 'sizes_test'::regnamespace"
    ).fetchone()
    assert parts is not None and parts[0] > 2_000_000
    assert sizes == {"events": parts[0], "plain": sizes["plain"]}
    assert abs(sizes["plain"] - parts[0]) < parts[0] / 5, "the same rows weigh about the same"
