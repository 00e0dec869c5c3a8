"""Small Kafka admin reads shared by commands: topic end offsets and consumer-group lag."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

if TYPE_CHECKING:
    from replicator.settings import Settings


def end_offsets(bootstrap: str, pattern: str) -> dict[TopicPartition, int]:
    """Log-end offset of every partition of the topics whose name matches ``pattern``."""
    regex = re.compile(pattern)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in sorted(t for t in consumer.topics() if regex.fullmatch(t))
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return dict(consumer.end_offsets(partitions)) if partitions else {}
    finally:
        consumer.close()


def group_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    finally:
        admin.close()


def group_members(bootstrap: str, group: str) -> int:
    """Live members of consumer group ``group``: 0 when it is empty or unknown."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_groups([group]).get(group, {})
    finally:
        admin.close()
    return len(described.get("members") or ())


def reset_group(
    bootstrap: str, group: str, topics: list[str], *, to: str | dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Move a consumer group (with no live member) to the start (``earliest``), the end (``latest``)
    of ``topics``, or to given offsets: a replay, or a fresh start that ignores history. Returns the
    offsets set."""
    from kafka.structs import OffsetAndMetadata

    if isinstance(to, dict):
        offsets = dict(to)
    else:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            partitions = [
                TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
            offsets = (consumer.beginning_offsets if to == "earliest" else consumer.end_offsets)(partitions)
        finally:
            consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.alter_group_offsets(group, {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
    finally:
        admin.close()
    return dict(offsets)


KEEP_FOREVER = {"retention.ms": "-1"}
"""The dead-letter topic's records are what V2 lacks until someone replays them, weeks later perhaps:
never deleted by time (the broker's default would delete them after 7 days, unlisted, unreplayed)."""


def ensure_topics(settings: Settings, names: list[str], partitions: int = 3) -> None:
    """Create missing topics up front (the partitioning Debezium's topic creation uses); the
    dead-letter topic keeps its records forever (``KEEP_FOREVER``)."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        missing = sorted(set(names) - set(admin.list_topics()))
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created it first
                admin.create_topics(
                    [
                        NewTopic(
                            n,
                            partitions,
                            1,
                            topic_configs=KEEP_FOREVER if n == settings.dead_letter_topic else {},
                        )
                        for n in missing
                    ]
                )
    finally:
        admin.close()
