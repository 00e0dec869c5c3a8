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
        return {tp: meta.offset for tp, meta in admin.list_consumer_group_offsets(group).items()}
    finally:
        admin.close()
