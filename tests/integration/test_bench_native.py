"""Benchmark system b, native logical replication, on the real stack: copy, pause, catch-up, cleanup."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bench.context import Bench, count_rows
from bench.systems.native import NAME, NativeSystem
from replicator.stack.manager import Stack
from tests.integration.conftest import eventually
from tests.support.bench import drop_database, seeded_bench

pytestmark = pytest.mark.integration

SCALE = 0.01
CHANGED = ("audit_logs", "notes")


def _checksum(conn: psycopg.Connection[Any], table: str) -> str:
    """An order-independent digest of every row over V1's columns (the target also has the benchmark's
    arrival column): comparisons never print row payloads."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in V1_COLUMNS[table])
    query = sql.SQL(
        "SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
        "FROM (SELECT {} FROM public.{}) r"
    )
    row = conn.execute(query.format(columns, sql.Identifier(table))).fetchone()
    assert row is not None
    return str(row[0])


V1_COLUMNS = {
    "audit_logs": (
        "id",
        "user_id",
        "entity_type",
        "entity_id",
        "action",
        "changes",
        "ip_address",
        "created_at",
    ),
    "notes": ("id", "author_user_id", "subject_type", "subject_id", "body", "is_deleted", "created_at"),
}


def _replication_objects(bench: Bench) -> dict[str, list[str]]:
    """Slots and publications on V1, subscriptions on the V2 cluster."""
    with bench.v1() as v1, bench.v2("postgres") as v2:
        return {
            "slots": sorted(r[0] for r in v1.execute("SELECT slot_name FROM pg_replication_slots")),
            "publications": sorted(r[0] for r in v1.execute("SELECT pubname FROM pg_publication")),
            "subscriptions": sorted(r[0] for r in v2.execute("SELECT subname FROM pg_subscription")),
        }


@pytest.fixture(scope="module")
def bench(stack: Stack) -> Iterator[Bench]:
    """V1 (and V2's brokerage) seeded at a tiny scale; afterwards no replication object or mirror is left."""
    bench = seeded_bench(stack, SCALE)
    yield bench
    NativeSystem().teardown(bench)
    drop_database(bench, NAME)


@pytest.fixture
def before(bench: Bench) -> dict[str, list[str]]:
    """The stack's own replication objects (Debezium's slot and publication), which must survive."""
    objects = _replication_objects(bench)
    assert NAME not in objects["slots"] + objects["publications"] + objects["subscriptions"]
    return objects


def test_copy_pause_catch_up_and_teardown(bench: Bench, before: dict[str, list[str]]) -> None:
    """The initial copy equals V1; changes made while paused stay out of the target and caught_up stays
    False; after resume they arrive and caught_up turns True; teardown leaves no slot, publication or
    subscription behind."""
    system = NativeSystem()
    system.setup(bench)
    try:
        system.start(bench)
        started = time.monotonic()
        eventually(lambda: system.synced(bench), timeout=120)
        sync_s = time.monotonic() - started

        v1_counts = bench.v1_counts()
        assert all(n > 0 for n in v1_counts.values())
        with bench.v2(NAME) as target:
            assert {
                t: count_rows(target, "public", system.target(bench, t)[1]) for t in bench.tables
            } == v1_counts

        system.pause(bench)
        with bench.v1() as v1, bench.v2(NAME) as target:
            unchanged = {t: _checksum(target, t) for t in CHANGED}
            assert unchanged == {t: _checksum(v1, t) for t in CHANGED}
            v1.execute("UPDATE notes SET body = body || ' (edited)', is_deleted = 'Y' WHERE id % 7 = 0")
            v1.execute(
                "INSERT INTO notes (author_user_id, subject_type, subject_id, body, created_at) "
                "SELECT author_user_id, subject_type, subject_id, 'added while paused', now() "
                "FROM notes ORDER BY id LIMIT 20"
            )
            v1.execute("DELETE FROM notes WHERE id IN (SELECT id FROM notes ORDER BY id LIMIT 3)")
            v1.execute(
                "INSERT INTO audit_logs (user_id, entity_type, entity_id, action, changes, ip_address, "
                "created_at) SELECT 1, 'note', g, 2, '{}', '127.0.0.1', now() FROM generate_series(1, 200) g"
            )
            v1.execute("UPDATE audit_logs SET action = 5 WHERE id % 5 = 0")
            v1.execute("DELETE FROM audit_logs WHERE id % 11 = 0")
            changed = {t: _checksum(v1, t) for t in CHANGED}
        assert all(changed[t] != unchanged[t] for t in CHANGED), "the changes must change V1"
        lsn = bench.v1_lsn()

        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert not system.caught_up(bench, lsn), "caught up while paused"
            time.sleep(0.2)
        with bench.v2(NAME) as target:
            assert {t: _checksum(target, t) for t in CHANGED} == unchanged, "applied while paused"

        system.resume(bench)
        resumed = time.monotonic()
        eventually(lambda: system.caught_up(bench, lsn), timeout=60, interval=0.05)
        catch_up_s = time.monotonic() - resumed
        with bench.v2(NAME) as target:
            assert {t: _checksum(target, t) for t in CHANGED} == changed
            assert {t: count_rows(target, "public", t) for t in bench.tables} == bench.v1_counts()
        print(f"native: synced in {sync_s:.2f}s, caught up {catch_up_s:.2f}s after resume")
    finally:
        system.teardown(bench)
    assert _replication_objects(bench) == before


def test_setup_clears_a_running_subscription(bench: Bench, before: dict[str, list[str]]) -> None:
    """setup again over a live subscription (slot and table-sync slots in use) starts from scratch:
    an empty mirror, one fresh subscription after start, nothing left after teardown."""
    system = NativeSystem()
    system.setup(bench)
    try:
        system.start(bench)
        system.setup(bench)
        objects = _replication_objects(bench)
        assert (NAME in objects["slots"], objects["subscriptions"]) == (False, before["subscriptions"])
        assert NAME in objects["publications"]
        with bench.v2(NAME) as target:
            assert {t: count_rows(target, "public", t) for t in bench.tables} == dict.fromkeys(
                bench.tables, 0
            )
        system.start(bench)
        eventually(lambda: system.synced(bench), timeout=120)
    finally:
        system.teardown(bench)
    assert _replication_objects(bench) == before
