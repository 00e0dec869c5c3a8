"""Small Kafka admin reads shared by commands: topic end offsets and consumer-group lag."""

from __future__ import annotations

import re

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


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
