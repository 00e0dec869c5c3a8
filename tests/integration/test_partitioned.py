"""A partitioned V1 table streams into V2 like any other: its changes reach the table's own topic (the
publication publishes them via the partitioned table, ``db.bootstrap.ensure_publication``), across
partitions, a row moving from one partition to another included. By PostgreSQL's default they are
published under each partition's name, and Debezium sent them to topics no worker reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from replicator.db.bootstrap import ensure_publication
from replicator.mapping.catalog import read_catalog
from replicator.stack.manager import Stack
from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

V1_DDL = """
CREATE TABLE IF NOT EXISTS public.part_events (id integer, at date, body text, PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE IF NOT EXISTS public.part_events_2024 PARTITION OF public.part_events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE IF NOT EXISTS public.part_events_2025 PARTITION OF public.part_events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
"""
V2_DDL = "CREATE TABLE IF NOT EXISTS public.part_events (id integer PRIMARY KEY, at date, body text)"
TEXT = "SELECT id, at::text, body FROM part_events ORDER BY id"


@pytest.fixture(scope="module")
def events(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnTable]:
    settings = stack.settings
    for endpoint, ddl in ((settings.v1_admin, V1_DDL), (settings.v2_admin, V2_DDL)):
        with psycopg.connect(endpoint.conninfo(), autocommit=True) as conn:
            conn.execute(ddl.encode())
    with own_table(
        stack,
        tmp_path_factory.mktemp("part_events"),
        table="part_events",
        columns="id integer, at date, body text",
        index=25,
    ) as own:
        yield own


def test_changes_in_every_partition_reach_v2(events: OwnTable) -> None:
    events.rows(
        "v1",
        "INSERT INTO part_events VALUES (1, '2024-03-01', 'one'), (2, '2025-03-01', 'two'),"
        " (3, '2025-06-01', 'three') RETURNING id",
    )
    events.rows("v1", "UPDATE part_events SET body = 'two, changed' WHERE id = 2 RETURNING id")
    events.rows("v1", "UPDATE part_events SET at = '2024-12-31' WHERE id = 3 RETURNING id")  # moves
    events.rows("v1", "DELETE FROM part_events WHERE id = 1 RETURNING id")
    expected = events.rows("v1", TEXT)
    assert expected == [(2, "2025-03-01", "two, changed"), (3, "2024-12-31", "three")]

    def arrived() -> Any:
        return events.rows("v2", TEXT) == expected

    eventually(arrived)


def test_the_catalog_knows_the_table_is_partitioned(events: OwnTable) -> None:
    """What `mapping check` warns about (a TRUNCATE of one partition is not published) starts here."""
    with events.v1() as v1:
        table = read_catalog(v1, "public").table("part_events")
    assert table is not None and table.partitioned and table.primary_key == ("id", "at")


def test_an_existing_publication_is_switched_to_publish_via_the_partitioned_table(events: OwnTable) -> None:
    """A V1 bootstrapped before this (or a publication a DBA created) publishes under the partitions."""
    with events.v1() as v1:
        v1.execute("DROP PUBLICATION IF EXISTS replicator_test_pub")
        v1.execute("CREATE PUBLICATION replicator_test_pub FOR TABLES IN SCHEMA public")
        try:
            ensure_publication(v1, "replicator_test_pub")
            ensure_publication(v1, "replicator_test_pub")  # idempotent
            found = v1.execute(
                "SELECT pubviaroot FROM pg_publication WHERE pubname = 'replicator_test_pub'"
            ).fetchone()
        finally:
            v1.execute("DROP PUBLICATION replicator_test_pub")
    assert found == (True,)
