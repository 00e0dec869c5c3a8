"""Metrics: every documented metric exists with its labels on a fresh registry and moves when recorded."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from replicator.metrics import APPLY_BUCKETS_SECONDS, Metrics
from replicator.pipeline.accounting import Ledger, Outcome


def fresh() -> tuple[CollectorRegistry, Metrics]:
    registry = CollectorRegistry()
    return registry, Metrics(registry)


def test_every_metric_is_declared_with_prefix_units_and_labels() -> None:
    """The names and labels dashboards and alerts rely on exist on an injected registry."""
    registry, metrics = fresh()
    metrics.set_lag("users", commit_ts_us=1_000_000, now_us=3_500_000)
    metrics.set_consumer_lag("v1.public.users", 0, 7)
    metrics.set_parked({"offices": 2})
    metrics.replication_slot_retained_wal_bytes.labels(slot="debezium").set(1024)
    metrics.set_verification("users", passed=True)
    metrics.cutover_ready.set(1)
    metrics.fence_applied_lsn.set(123)
    metrics.observe_batch(duration_seconds=0.02, size=10, committed_at_us=1_700_000_000_000_000)
    get = registry.get_sample_value
    assert get("replicator_end_to_end_lag_seconds", {"table": "users"}) == 2.5
    assert get("replicator_consumer_lag_messages", {"topic": "v1.public.users", "partition": "0"}) == 7
    assert get("replicator_parked_rows", {"table": "offices"}) == 2
    assert get("replicator_replication_slot_retained_wal_bytes", {"slot": "debezium"}) == 1024
    assert get("replicator_verification_passed", {"table": "users"}) == 1
    assert get("replicator_cutover_ready") == 1
    assert get("replicator_fence_applied_lsn") == 123
    assert get("replicator_last_commit_timestamp_seconds") == 1_700_000_000
    assert get("replicator_apply_batch_duration_seconds_count") == 1
    assert get("replicator_batch_size_events_sum") == 10
    names = {m.name for m in registry.collect()}
    assert all(n.startswith("replicator_") for n in names)
    assert {"replicator_events", "replicator_dead_letters", "replicator_events_consumed"} <= names


def test_apply_duration_buckets_span_1ms_to_10s() -> None:
    """The apply histogram has explicit buckets from 1 ms to 10 s."""
    assert APPLY_BUCKETS_SECONDS[0] == 0.001 and APPLY_BUCKETS_SECONDS[-1] == 10.0
    registry, metrics = fresh()
    metrics.observe_batch(duration_seconds=0.003, size=1, committed_at_us=0)
    get = registry.get_sample_value
    assert get("replicator_apply_batch_duration_seconds_bucket", {"le": "0.0025"}) == 0
    assert get("replicator_apply_batch_duration_seconds_bucket", {"le": "0.005"}) == 1


def test_recording_a_ledger_moves_the_right_counters() -> None:
    """A batch's books increment events by table/op/outcome and dead letters by table/reason."""
    registry, metrics = fresh()
    ledger = Ledger()
    ledger.settle("offices", "upsert", Outcome.APPLIED)
    ledger.settle("offices", "upsert", Outcome.APPLIED)
    ledger.settle("notes", "upsert", Outcome.DEAD_LETTERED, reason="ORPHAN_FK")
    metrics.record_ledger(ledger)
    metrics.record_ledger(ledger)
    get = registry.get_sample_value
    assert get("replicator_events_total", {"table": "offices", "op": "upsert", "outcome": "applied"}) == 4
    assert get("replicator_events_consumed_total", {"table": "offices", "op": "upsert"}) == 4
    assert get("replicator_dead_letters_total", {"table": "notes", "reason": "ORPHAN_FK"}) == 2
    assert get("replicator_events_total", {"table": "notes", "op": "upsert", "outcome": "applied"}) is None


def test_keyless_tables_gauge_follows_the_latest_measurement() -> None:
    registry, metrics = fresh()
    metrics.set_keyless(["public.a", "public.b"])
    metrics.set_keyless(["public.b"])
    get = registry.get_sample_value
    assert get("replicator_v1_tables_without_replica_identity", {"table": "public.a"}) is None
    assert get("replicator_v1_tables_without_replica_identity", {"table": "public.b"}) == 1


def test_parked_gauge_drops_to_zero_for_tables_no_longer_parked() -> None:
    """A table whose parked rows were all released reads 0, not its last non-zero value."""
    registry, metrics = fresh()
    metrics.set_parked({"offices": 2})
    metrics.set_parked({})
    assert registry.get_sample_value("replicator_parked_rows", {"table": "offices"}) == 0
