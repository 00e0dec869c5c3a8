"""The Faust app: declares the app and its topics, and runs short agent loops that call the core."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import faust
import psycopg

from replicator.connect.config import load_connector
from replicator.pipeline.envelope import DecodeError, decode
from replicator.settings import Settings, load_settings
from replicator.worker.identity import TableKeys, apply_batch

log = logging.getLogger("replicator.worker")

BATCH_MAX = 1000
BATCH_WITHIN_S = 0.2
HEARTBEAT_TABLES = frozenset({("replicator", "heartbeat")})


def v1_topics(settings: Settings, v2_tables: list[str]) -> list[str]:
    connector = load_connector()
    return [connector.table_topic("public", t) for t in sorted(v2_tables)]


def ensure_topics(settings: Settings, names: list[str], partitions: int = 3) -> None:
    """Create missing topics up front (same partitioning Debezium's topic creation would use)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        missing = sorted(set(names) - set(admin.list_topics()))
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created it first
                admin.create_topics([NewTopic(n, partitions, 1) for n in missing])
    finally:
        admin.close()


def create_app(settings: Settings) -> faust.App:
    with psycopg.connect(settings.v2_writer.conninfo()) as conn:
        keys = TableKeys.read(conn, "public")
    topics = v1_topics(settings, list(keys.keys))
    ensure_topics(settings, topics)
    app = faust.App(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.state_dir / f"faust-{settings.worker_web_port}"),
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        key_serializer="raw",
        value_serializer="raw",
    )
    source = app.topic(*topics, key_type=bytes, value_type=bytes) if topics else None
    state: dict[str, Any] = {"conn": None}

    async def apply(stream: Any) -> None:  # faust.Stream; its stubs lack take_events
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            records = []
            for event in events:
                try:
                    records.append(
                        decode(
                            event.message.key,
                            event.message.value,
                            topic=event.message.topic,
                            heartbeat_tables=HEARTBEAT_TABLES,
                        )
                    )
                except DecodeError as exc:
                    log.warning(
                        "skipping undecodable record: %s (partition %s offset %s)",
                        exc.reason,
                        event.message.partition,
                        event.message.offset,
                    )
            if state["conn"] is None or state["conn"].closed:
                state["conn"] = await_connect(settings)
            apply_batch(state["conn"], keys, records)

    if source is not None:
        app.agent(source, name="apply")(apply)
    return app


def await_connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(settings.v2_writer.conninfo(), autocommit=False)


def run_worker(settings: Settings | None = None) -> None:
    from faust.worker import Worker

    app = create_app(settings or load_settings())
    Worker(app, loglevel="info", quiet=True).execute_from_commandline()
