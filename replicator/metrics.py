"""Every Prometheus metric of the product, declared once against an injected registry.

Names carry the ``replicator_`` prefix and their unit; histograms have explicit buckets. Workers build
one ``Metrics(registry)`` at start-up (``prometheus_client.REGISTRY`` in production, a fresh
``CollectorRegistry`` in tests) and record through its methods.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from replicator.pipeline.accounting import Ledger

__all__ = ["APPLY_BUCKETS_SECONDS", "BATCH_SIZE_BUCKETS", "Metrics"]

# 1 ms … 10 s: a healthy batch commits in tens of milliseconds; seconds mean V2 is struggling.
APPLY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

_US = 1_000_000


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.end_to_end_lag_seconds = Gauge(
            "replicator_end_to_end_lag_seconds",
            "Now minus the V1 commit time of the last change applied to V2 (kept fresh by the heartbeat).",
            ["table"],
            registry=registry,
        )
        self.consumer_lag_messages = Gauge(
            "replicator_consumer_lag_messages",
            "Messages between the committed offset and the end of the partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.events_consumed = Counter(
            "replicator_events_consumed_total",
            "Events consumed (V2 changes, or records that yield none), by table and op.",
            ["table", "op"],
            registry=registry,
        )
        self.events = Counter(
            "replicator_events_total",
            "Event outcomes by table, op and outcome (see replicator.pipeline.accounting).",
            ["table", "op", "outcome"],
            registry=registry,
        )
        self.parked_rows = Gauge(
            "replicator_parked_rows",
            "Changes parked waiting for a parent (or a parent delete waiting for its children).",
            ["table"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "replicator_dead_letters_total",
            "Records sent to the dead-letter topic, by table and reason.",
            ["table", "reason"],
            registry=registry,
        )
        self.apply_batch_duration_seconds = Histogram(
            "replicator_apply_batch_duration_seconds",
            "Time to plan, read, decide and write one batch into V2 (commit included).",
            buckets=APPLY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.batch_size_events = Histogram(
            "replicator_batch_size_events",
            "Events per applied batch.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.replication_slot_retained_wal_bytes = Gauge(
            "replicator_replication_slot_retained_wal_bytes",
            "WAL bytes V1 retains for the Debezium replication slot.",
            ["slot"],
            registry=registry,
        )
        self.v1_tables_without_replica_identity = Gauge(
            "replicator_v1_tables_without_replica_identity",
            "1 for each V1 table of the published schemas without a replica identity: PostgreSQL refuses"
            " UPDATE and DELETE on it while the publication publishes it.",
            ["table"],
            registry=registry,
        )
        self.verification_passed = Gauge(
            "replicator_verification_passed",
            "Last verification result per V2 table: 1 passed, 0 failed.",
            ["table"],
            registry=registry,
        )
        self.cutover_ready = Gauge(
            "replicator_cutover_ready",
            "1 when every cutover readiness check passes, else 0.",
            registry=registry,
        )
        self.last_commit_timestamp_seconds = Gauge(
            "replicator_last_commit_timestamp_seconds",
            "Unix time of the last successful V2 commit.",
            registry=registry,
        )
        self.apply_retries = Counter(
            "replicator_apply_retries_total",
            "Batches not applied and retried after a backoff, by error: DatabaseRefusedError (V1 or V2"
            " refused the statements: schema, rights, read-only), TransientError (a database away).",
            ["error"],
            registry=registry,
        )
        for error in ("DatabaseRefusedError", "TransientError"):  # at 0 from the start: no gap in graphs
            self.apply_retries.labels(error=error)
        self._parked_tables: set[str] = set()
        self.fence_applied_lsn = Gauge(
            "replicator_fence_applied_lsn",
            "V1 LSN of the latest fence applied to V2.",
            registry=registry,
        )

    def record_ledger(self, ledger: Ledger) -> None:
        """Add one batch's books (a delta, never a running total) to the counters."""
        for (table, op), n in ledger.consumed.items():
            if n:
                self.events_consumed.labels(table=table, op=op).inc(n)
        for (table, op, outcome), n in ledger.outcomes.items():
            if n:
                self.events.labels(table=table, op=op, outcome=outcome.value).inc(n)
        for (table, reason), n in ledger.dead_letters.items():
            if n:
                self.dead_letters.labels(table=table, reason=reason).inc(n)

    def observe_batch(self, *, duration_seconds: float, size: int, committed_at_us: int) -> None:
        self.apply_batch_duration_seconds.observe(duration_seconds)
        self.batch_size_events.observe(size)
        self.last_commit_timestamp_seconds.set(committed_at_us / _US)

    def set_lag(self, table: str, *, commit_ts_us: int, now_us: int) -> None:
        """End-to-end lag of ``table``: now minus the source commit time of its last applied change."""
        self.end_to_end_lag_seconds.labels(table=table).set(max(now_us - commit_ts_us, 0) / _US)

    def set_consumer_lag(self, topic: str, partition: int, messages: int) -> None:
        self.consumer_lag_messages.labels(topic=topic, partition=str(partition)).set(messages)

    def set_parked(self, counts: dict[str, int]) -> None:
        """Parked rows per table, from the parked table (tables absent from ``counts`` read 0)."""
        self._parked_tables.update(counts)
        for table in self._parked_tables:
            self.parked_rows.labels(table=table).set(counts.get(table, 0))

    def set_keyless(self, tables: list[str]) -> None:
        """The V1 tables without a replica identity now: a table fixed since drops out of the gauge."""
        self.v1_tables_without_replica_identity.clear()
        for table in tables:
            self.v1_tables_without_replica_identity.labels(table=table).set(1)

    def set_verification(self, table: str, *, passed: bool) -> None:
        self.verification_passed.labels(table=table).set(1 if passed else 0)
