"""Guarantee 1 against Kafka's retention. Changes Kafka deleted before the group applied them (a stopped
or lagging group outrun by the topic's retention) stop the worker with a message naming the topic,
partition and offset, instead of it skipping to the log's start without a word; and the dead-letter
topic keeps its records forever, so a dead letter is still there to list and replay weeks later."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from replicator.kafka_util import end_offsets, group_offsets
from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TOPIC = "v1.public.retained_items"


items = own_table_fixture(
    table="retained_items", columns="id integer PRIMARY KEY, qty integer NOT NULL", index=19
)


def test_the_dead_letter_topic_keeps_its_records_forever(items: OwnTable) -> None:
    admin = KafkaAdminClient(bootstrap_servers=items.stack.settings.kafka_bootstrap)
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, items.dead_letter_topic, {"retention.ms": None})
        described = admin.describe_configs([resource], config_filter="all")
    finally:
        admin.close()
    assert described["topic"][items.dead_letter_topic]["retention.ms"]["value"] == "-1"


def test_changes_deleted_before_they_were_applied_stop_the_worker_with_where(items: OwnTable) -> None:
    bootstrap = items.stack.settings.kafka_bootstrap
    with items.v1() as v1:
        v1.execute("INSERT INTO retained_items VALUES (1, 1)")
        eventually(lambda: items.v2_rows().get(1) == (1,))
        items.process.stop()
        v1.execute("INSERT INTO retained_items SELECT g, g FROM generate_series(2, 40) g")
    group = f"replicator-{items.table}"
    committed = {tp: n for tp, n in group_offsets(bootstrap, group).items() if tp.topic == TOPIC}
    ends = eventually(
        lambda: (e := end_offsets(bootstrap, TOPIC.replace(".", r"\."))) and sum(e.values()) >= 40 and e
    )
    lost = {tp: end for tp, end in ends.items() if end > committed.get(tp, 0)}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:  # what retention would do to a group a week behind: the records it has not read are gone
        admin.delete_records({TopicPartition(tp.topic, tp.partition): end for tp, end in lost.items()})
    finally:
        admin.close()
    offset = items.log_size()
    items.stack.start_worker(items.index, env=items.env)
    eventually(lambda: not items.process.running(), timeout=90)
    log = items.log_since(offset)
    assert f"consumer group {group}: changes deleted by Kafka before they were applied" in log, log[-3000:]
    first = min(lost, key=lambda tp: tp.partition)
    assert f"{TOPIC} partition {first.partition} from offset {committed.get(first, 0)}" in log
    assert set(items.v2_rows()) == {1}, "nothing applied past the gap"
    assert {tp: n for tp, n in group_offsets(bootstrap, group).items() if tp.topic == TOPIC} == committed
