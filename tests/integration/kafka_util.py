"""Reading topics in tests with a plain Kafka consumer (no consumer group, nothing committed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from replicator.dlq.entries import json_or_text


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: Any
    value: Any  # None for a tombstone
    headers: dict[str, bytes] | None = None


def read_topic(bootstrap: str, topic: str, *, idle_ms: int = 2000) -> list[Message]:
    """Every record currently in ``topic``, decoded from JSON, in (partition, offset) order."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=idle_ms
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        out = [
            Message(m.partition, m.offset, json_or_text(m.key), json_or_text(m.value), dict(m.headers or []))
            for m in consumer
        ]
    finally:
        consumer.close()
    return sorted(out, key=lambda m: (m.partition, m.offset))
