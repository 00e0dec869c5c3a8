"""The Faust app: declares the app, its topics and web views, and runs short loops that call the core.

A task consumes every mapped V1 table topic and the heartbeat topic in batches with one aiokafka
group consumer (``replicator.worker.consume``: Faust's per-message stream machinery cost more CPU
than the whole apply path), hands each batch to the Processor in a thread, and commits the offsets
only after the Processor returned — that is, after the V2 transaction committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
import psycopg
from faust.app.base import BootStrategy
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, generate_latest

from replicator import gctune
from replicator.connect.config import load_connector
from replicator.errors import ReplicatorError
from replicator.kafka_util import ensure_topics
from replicator.mapping.live import checked_catalogs
from replicator.mapping.model import Mapping, load_mapping
from replicator.metrics import Metrics
from replicator.settings import Settings, load_settings
from replicator.worker.consume import BatchConsumer
from replicator.worker.deadletters import DeadLetterProducer
from replicator.worker.health import Health
from replicator.worker.processor import BatchResult, Processor, Record
from replicator.worker.quiet import quiet_handlers

log = logging.getLogger("replicator.worker")

BATCH_MAX = 2000
BATCH_WITHIN_S = 0.1
SWEEP_INTERVAL_S = 1.0
LAG_INTERVAL_S = 5.0
STARTUP_BACKOFF_MAX_S = 30.0
PROMETHEUS_CONTENT_TYPE = "text/plain"


def source_topics(mapping: Mapping) -> list[str]:
    """The topics Debezium writes the mapped V1 tables to, and its heartbeat's."""
    connector = load_connector()
    sources = sorted({t.source for t in mapping.tables})
    return [connector.table_topic(mapping.source_schema, t) for t in sources] + [
        connector.table_topic("replicator", "heartbeat")
    ]


class Pipeline:
    """What the agent and timers share: processors, metrics, health, and the lag bookkeeping."""

    def __init__(self, settings: Settings, mapping: Mapping, mapping_path: Path | None = None) -> None:
        mapping_path = mapping_path or settings.mapping_path
        self.settings = settings
        self.mapping = mapping
        # Before anything is consumed: a mapping that names what V1 or V2 lacks stops the start-up here,
        # instead of the first write meeting it.
        self.v1_catalog, self.v2_catalog, warnings = checked_catalogs(
            settings, mapping, source=str(mapping_path)
        )
        for finding in warnings:
            log.warning("mapping: %s", finding)
        self.topics = source_topics(mapping)
        ensure_topics(settings, [*self.topics, settings.dead_letter_topic])
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.health = Health()
        self.dead_letters = DeadLetterProducer(settings.kafka_bootstrap, settings.dead_letter_topic)
        self.batches, self.sweeper = self._processor(), self._processor()  # one connection each
        self.applied_ts: dict[str, int] = {}  # V2 table or "heartbeat" → commit time of last applied change
        self.sources_of = {
            t.target: sorted({m.source for m in mapping.mappings_for_target(t.target)})
            for t in mapping.tables
        }
        # Every mapped table's parked count from the start, at 0 until a measurement says otherwise: the
        # SREs' panels read 0, not "no data", on a pipeline that never parked anything.
        self.metrics.set_parked(dict.fromkeys(self.sources_of, 0))

    def _processor(self) -> Processor:
        s = self.settings
        return Processor(
            mapping=self.mapping,
            v1_catalog=self.v1_catalog,
            v2_catalog=self.v2_catalog,
            v2_conninfo=s.v2_writer.conninfo(),
            v1_conninfo=s.v1_replication.conninfo(),
            dead_letters=self.dead_letters.send_all,
            connector_name=s.connector_name,
            on_retry=self._retrying,
        )

    def _retrying(self, error: ReplicatorError) -> None:
        """A batch (or sweep) not applied, about to be retried: /ready and the metrics say why."""
        self.health.failed("apply", error)
        self.metrics.apply_retries.labels(error=type(error).__name__).inc()

    def observe(self, result: BatchResult) -> None:
        self.metrics.record_ledger(result.ledger)
        now_us = int(time.time() * 1_000_000)
        for table, (ts_us, _lsn) in result.progress.items():
            self.applied_ts[table] = max(self.applied_ts.get(table, 0), ts_us)
            if table != "heartbeat":
                self.metrics.set_lag(table, commit_ts_us=self.applied_ts[table], now_us=now_us)
        self.health.committed()

    def measure_lag(self) -> None:
        from replicator.worker.lag import measure

        snapshot = measure(self.settings, self.topics)
        behind: dict[str, int] = {}
        for (topic, partition), messages in snapshot.consumer_lag.items():
            self.metrics.set_consumer_lag(topic, partition, messages)
            table = topic.rsplit(".", 1)[-1]
            behind[table] = behind.get(table, 0) + messages
        # A caught-up table is as fresh as the last heartbeat: its lag does not grow while V1 is idle.
        now_us = int(time.time() * 1_000_000)
        heartbeat = self.applied_ts.get("heartbeat", 0)
        for table, sources in self.sources_of.items():
            caught_up = all(behind.get(s, 0) == 0 for s in sources)
            ts = max(self.applied_ts.get(table, 0), heartbeat if caught_up else 0)
            if ts:
                self.metrics.set_lag(table, commit_ts_us=ts, now_us=now_us)
        self.metrics.set_parked(snapshot.parked)
        if snapshot.slot_wal_bytes is not None:
            gauge = self.metrics.replication_slot_retained_wal_bytes
            gauge.labels(slot=self.settings.slot).set(snapshot.slot_wal_bytes)
        self.metrics.set_keyless(snapshot.keyless)


class _NoConsumerBoot(BootStrategy):
    """Faust's own Kafka consumer stays off: the BatchConsumer task reads the topics."""

    enable_kafka_consumer = False


class WorkerApp(faust.App):
    BootStrategy = _NoConsumerBoot


def create_app(settings: Settings, *, mapping_path: Path | None = None) -> faust.App:
    mapping_path = mapping_path or settings.mapping_path
    pipeline = Pipeline(settings, load_mapping(mapping_path), mapping_path)
    app = WorkerApp(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.state_dir / f"faust-{settings.worker_web_port}"),
        topic_disable_leader=True,
        topic_allow_declare=False,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
    )

    async def apply(records: list[Record]) -> None:
        result = await asyncio.to_thread(pipeline.batches.process, records)
        pipeline.metrics.observe_batch(
            duration_seconds=result.duration_s, size=len(records), committed_at_us=int(time.time() * 1e6)
        )
        pipeline.observe(result)

    source = BatchConsumer(
        bootstrap=settings.kafka_bootstrap,
        group=settings.consumer_group,
        topics=pipeline.topics,
        apply=apply,
        batch_max=BATCH_MAX,
        wait_s=BATCH_WITHIN_S,
        client_id=f"replicator-worker-{settings.worker_web_port}",
    )

    @app.task
    async def consume() -> None:
        await source.run()

    # A timer that raises stops the whole Faust app: both timers report and carry on.
    @app.timer(interval=SWEEP_INTERVAL_S)
    async def sweep() -> None:
        try:
            result = await asyncio.to_thread(pipeline.sweeper.sweep)
        except Exception as exc:  # see above; transient failures are already retried inside
            pipeline.health.failed("sweep", exc)
            log.error("sweep of expired parked rows failed: %s", type(exc).__name__)
            return
        if result.steps:
            pipeline.observe(result)

    @app.timer(interval=LAG_INTERVAL_S)
    async def lag() -> None:
        try:
            await asyncio.to_thread(pipeline.measure_lag)
        except Exception as exc:  # see above: never let a timer raise
            log.warning("lag measurement failed: %s", type(exc).__name__)

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; Prometheus reads plain text format 0.0.4.
        return web.bytes(generate_latest(pipeline.registry), content_type=PROMETHEUS_CONTENT_TYPE)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"ok": True})

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        state = pipeline.health.ready(assigned_partitions=source.assigned())
        return web.json(state, status=200 if state["ready"] else 503)

    return app


def create_app_when_reachable(
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    backoff_max_s: float = STARTUP_BACKOFF_MAX_S,
) -> faust.App:
    """``create_app``, retried with backoff while PostgreSQL or Kafka cannot be reached (the worker
    reads both catalogs and makes sure of its topics first): a worker started during an outage waits
    it out, reporting each attempt, instead of exiting. A bad configuration or mapping still stops it."""
    delay = 1.0
    # Faust configures logging only once the app runs: until then, time-stamped lines of our own, on
    # the root logger with the Kafka clients' repeats held back (kafka-python's admin client logs each
    # failed connection of a start-up outage, which Python's last-resort handler would print in full).
    early = logging.StreamHandler()
    early.setFormatter(logging.Formatter("[%(asctime)s] [%(levelname)s] %(name)s: %(message)s"))
    quiet_handlers([early])
    root = logging.getLogger()
    root.addHandler(early)
    try:
        while True:
            try:
                return create_app(settings)
            except (psycopg.OperationalError, KafkaError) as exc:
                what = "PostgreSQL" if isinstance(exc, psycopg.OperationalError) else "Kafka"
                log.warning(
                    "cannot start: %s unreachable (%s); retrying in %.0fs", what, type(exc).__name__, delay
                )
                sleep(delay)
                delay = min(delay * 2, backoff_max_s)
    finally:
        root.removeHandler(early)


def run_worker(settings: Settings | None = None) -> None:
    from faust.worker import Worker

    class QuietWorker(Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            quiet_handlers(logger.handlers)

    app = create_app_when_reachable(settings or load_settings())
    gctune.tune()
    QuietWorker(app, loglevel="info", quiet=True).execute_from_commandline()
