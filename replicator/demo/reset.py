"""Start a consumer group afresh before (re)seeding: V2 bookkeeping forgotten, history skipped.

Seeding recreates V1's tables; DDL is not captured, so earlier change events in the topics describe
rows that no longer exist. The group therefore starts at the end of its topics — after waiting for
Debezium to ship everything V1 had committed, or events still in flight would land after the reset.
"""

from __future__ import annotations

import psycopg
from kafka import TopicPartition

from replicator.dlq.topic import DeadLetterTopic
from replicator.drain import wait_slot_caught_up
from replicator.kafka_util import ensure_topics, reset_group
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.sink.state import truncate_state
from replicator.worker.app import source_topics

__all__ = ["reset_pipeline"]


def reset_pipeline(settings: Settings, mapping: Mapping) -> dict[TopicPartition, int]:
    """Workers of ``settings.consumer_group`` must be stopped. Returns the group's new start offsets."""
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        truncate_state(v2)
    topics = source_topics(mapping)
    ensure_topics(settings, [*topics, settings.dead_letter_topic])
    DeadLetterTopic(settings.kafka_bootstrap, settings.dead_letter_topic).start_generation()
    wait_slot_caught_up(settings)
    return reset_group(settings.kafka_bootstrap, settings.consumer_group, topics, to="latest")
