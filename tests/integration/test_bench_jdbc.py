"""Benchmark system c on the real stack: Debezium's PostgreSQL source and JDBC sink into V1-identical tables.

The demo is seeded tiny into V1; the system copies it (initial snapshot), then, with the sink paused,
V1 changes (updates of every awkward type, an insert, deletes, a cascade, a primary-key change)
accumulate in Kafka and are applied after resume. Every comparison is row for row, all columns.
The stack's own connector and smoke worker keep running alongside: the system must not disturb them
(its own slot, publication, topics and consumer group).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from bench.context import Bench
from bench.systems.jdbc import NAME, SINK, SINK_ROLE, SOURCE, JdbcSinkSystem
from replicator.stack.manager import Stack
from tests.integration.conftest import eventually
from tests.support.bench import seeded_bench

pytestmark = pytest.mark.integration

SCALE = 0.01
AWKWARD = {
    "listing_photos": "bytea, timestamptz",
    "listings": "text[], numeric, timestamp",
    "transaction_logs": "jsonb, bigserial",
    "customers": "uuid, char(1), nullable text",
    "documents": "uuid, bytea, text[]",
    "transactions": "numeric(12, 2), uuid",
}
"""Tables with the column types a JDBC sink is most likely to get wrong (and what they hold)."""

Conn = psycopg.Connection[tuple[Any, ...]]
ANY_ROW = sql.SQL("true")


def _rows(conn: Conn, table: str) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT * FROM public.{} ORDER BY id").format(sql.Identifier(table))
    return conn.execute(query).fetchall()


def _differing(bench: Bench, system: JdbcSinkSystem, tables: list[str]) -> dict[str, int]:
    """Tables whose target rows differ from V1's, with how many ids differ (never the values)."""
    differing: dict[str, int] = {}
    with bench.v1() as v1:
        for table in tables:
            dbname, target_table = system.target(bench, table)
            with bench.v2(dbname) as target:
                source = {row[0]: row for row in _rows(v1, table)}
                copied = {row[0]: row for row in _rows(target, target_table)}
            wrong = sum(1 for key in source.keys() | copied.keys() if source.get(key) != copied.get(key))
            if wrong:
                differing[table] = wrong
    return differing


def _slot_confirmed(v1: Conn, lsn: str) -> bool:
    row = v1.execute(
        "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots WHERE slot_name = %s",
        [lsn, NAME],
    ).fetchone()
    return bool(row and row[0])


def _first_ids(v1: Conn, table: str, n: int, where: sql.Composable = ANY_ROW) -> list[int]:
    query = sql.SQL("SELECT id FROM public.{} WHERE {} ORDER BY id LIMIT {}").format(
        sql.Identifier(table), where, sql.Literal(n)
    )
    return [int(r[0]) for r in v1.execute(query).fetchall()]


@pytest.fixture(scope="module")
def bench(stack: Stack) -> Bench:
    return seeded_bench(stack, SCALE)


@pytest.fixture(scope="module")
def system(bench: Bench) -> Iterator[JdbcSinkSystem]:
    system = JdbcSinkSystem()
    system.setup(bench)
    yield system
    system.teardown(bench)  # idempotent: also after a failure, so no slot holds V1's WAL


def test_initial_sync_copies_every_row_unchanged(bench: Bench, system: JdbcSinkSystem) -> None:
    """After start, synced() turns true and every replicated table equals V1 row for row, all columns."""
    assert system.target(bench, "listings") == (NAME, "listings")
    assert system.processes(bench) == {}
    with bench.v2(NAME) as target:
        assert target.execute("SELECT count(*) FROM public.listings").fetchone() == (0,)
    started = time.monotonic()
    system.start(bench)
    eventually(lambda: system.synced(bench), timeout=180, interval=0.5)
    print(f"initial sync: {time.monotonic() - started:.1f}s")
    counts = bench.v1_counts()
    assert all(counts[t] > 0 for t in AWKWARD), "the awkward tables must hold rows to compare"
    assert _differing(bench, system, bench.tables) == {}


def _change_v1(v1: Conn) -> dict[str, list[int]]:
    """Updates of every awkward type, an insert, deletes (one cascading) and a primary-key change."""
    listings = _first_ids(v1, "listings", 4, sql.SQL("id IN (SELECT listing_id FROM listing_photos)"))
    gone = sql.Literal(listings[-1])
    photo = _first_ids(v1, "listing_photos", 1, sql.SQL("listing_id <> {}").format(gone))
    logs = _first_ids(v1, "transaction_logs", 3)
    customer = _first_ids(v1, "customers", 1)
    document = _first_ids(v1, "documents", 1)
    deleted_photos = _first_ids(v1, "listing_photos", 1000, sql.SQL("listing_id = {}").format(gone))
    with v1.transaction():
        v1.execute(
            "UPDATE listings SET features = array_append(features, 'a \"quoted\", {braced} value'),"
            " bathrooms = 2.5, list_price_cents = list_price_cents + 1,"
            " off_market_at = '2024-03-10 02:30:00.123456' WHERE id = ANY(%s)",
            [listings[:2]],
        )
        v1.execute("UPDATE listings SET features = '{}', off_market_at = NULL WHERE id = %s", [listings[2]])
        v1.execute(
            "UPDATE listing_photos SET sha256 = '\\x00ff00'::bytea,"
            " uploaded_at = '2024-11-03 01:30:00.654321-04' WHERE id = %s",
            [photo[0]],
        )
        v1.execute(
            "UPDATE transaction_logs SET details = details"
            ' || \'{"bench": {"nested": [1, 2.50, null]}, "unicode": "é ✓"}\'::jsonb WHERE id = ANY(%s)',
            [logs[:2]],
        )
        v1.execute("DELETE FROM transaction_logs WHERE id = %s", [logs[2]])
        v1.execute(
            "UPDATE customers SET external_ref = gen_random_uuid(), email = NULL, do_not_contact = 'Y'"
            " WHERE id = %s",
            [customer[0]],
        )
        v1.execute(
            "INSERT INTO customers (first_name, last_name, email, segment, external_ref, created_at)"
            " VALUES ('Bench', 'Jdbc', NULL, 3, gen_random_uuid(), '2024-01-01 00:00:00.000001')"
        )
        v1.execute(
            "UPDATE transactions SET closing_costs = 1234.50 WHERE id = (SELECT min(id) FROM transactions)"
        )
        v1.execute("DELETE FROM listings WHERE id = %s", [listings[-1]])  # cascades to its photos
    v1.execute(
        "UPDATE documents SET id = (SELECT max(id) + 1000 FROM documents), tags = '{x,y}' WHERE id = %s",
        [document[0]],
    )
    return {
        "listings": [listings[-1]],
        "listing_photos": deleted_photos,
        "transaction_logs": [logs[2]],
        "documents": document,
    }


def test_changes_made_while_paused_are_applied_after_resume(bench: Bench, system: JdbcSinkSystem) -> None:
    """Paused, the sink applies nothing and caught_up stays false though Debezium has shipped the changes;
    resumed, caught_up turns true and V1 and the target are equal again, deletes included."""
    changed = sorted(AWKWARD)
    system.pause(bench)
    with bench.v2(NAME) as target:
        before = {t: _rows(target, t) for t in changed}
    with bench.v1() as v1:
        deleted = _change_v1(v1)
        lsn = bench.v1_lsn()
        eventually(lambda: _slot_confirmed(v1, lsn), timeout=60)  # the source keeps capturing
    time.sleep(2.0)  # longer than the sink's offset flush interval
    assert not system.caught_up(bench, lsn)
    with bench.v2(NAME) as target:
        assert {t: _rows(target, t) for t in changed} == before, "a paused sink wrote to the target"

    resumed = time.monotonic()
    system.resume(bench)
    eventually(lambda: system.caught_up(bench, lsn), timeout=120, interval=0.25)
    print(f"caught up {time.monotonic() - resumed:.1f}s after resume")
    assert _differing(bench, system, bench.tables) == {}
    with bench.v2(NAME) as target:
        for table, ids in deleted.items():
            query = sql.SQL("SELECT count(*) FROM public.{} WHERE id = ANY(%s)").format(sql.Identifier(table))
            assert target.execute(query, [ids]).fetchone() == (0,), f"deletes not applied to {table}"


def test_caught_up_holds_while_v1_is_idle(bench: Bench, system: JdbcSinkSystem) -> None:
    """With the replicated tables idle (V1 still writes other WAL), a later LSN is confirmed promptly:
    the source's own heartbeat advances its slot."""
    time.sleep(1.5)
    lsn = bench.v1_lsn()
    started = time.monotonic()
    eventually(lambda: system.caught_up(bench, lsn), timeout=30, interval=0.25)
    assert time.monotonic() - started < 10


def test_teardown_leaves_no_slot_publication_connector_or_role(
    bench: Bench, system: JdbcSinkSystem, stack: Stack
) -> None:
    """Teardown removes both connectors, the slot, the publication, the heartbeat schema and the sink role;
    the product's connector keeps running."""
    system.teardown(bench)
    system.teardown(bench)  # idempotent
    with bench.v1() as v1:
        assert v1.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [NAME]).fetchall() == []
        assert v1.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [NAME]).fetchall() == []
        assert v1.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [NAME]).fetchall() == []
    with bench.v2("postgres") as admin:
        assert admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [SINK_ROLE]).fetchall() == []
    connectors = httpx.get(f"{stack.settings.connect_url}/connectors", timeout=10).json()
    assert SOURCE not in connectors and SINK not in connectors
    assert stack.settings.connector_name in connectors
