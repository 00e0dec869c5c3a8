"""V1's schema changing under running workers, as an application deploy during the parallel run does.
A column added to a V1 table: the table's changes keep reaching V2 (the new column, which the mapping
does not read, is not replicated and the worker says so once, naming it). A change whose values do not
fit V1's catalog even read again: dead-lettered (SCHEMA_MISMATCH), the stream goes on. Before, either
crashed the worker."""

from __future__ import annotations

import orjson
import pytest
from kafka import KafkaProducer

from replicator.dlq.topic import DeadLetterTopic
from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "s3cret-note"


items = own_table_fixture(
    table="evolving_items", columns="id integer PRIMARY KEY, qty integer NOT NULL", index=18
)


def test_a_column_added_to_v1_under_the_worker_does_not_stop_the_table(items: OwnTable) -> None:
    with items.v1() as v1:
        v1.execute("INSERT INTO evolving_items VALUES (1, 10)")
        eventually(lambda: items.v2_rows().get(1) == (10,))
        offset = items.log_size()
        v1.execute("ALTER TABLE evolving_items ADD COLUMN note text")
        v1.execute("INSERT INTO evolving_items VALUES (2, 20, %s)", [SECRET])
        v1.execute("UPDATE evolving_items SET qty = 11, note = %s WHERE id = 1", [SECRET])
    eventually(lambda: items.v2_rows() == {1: (11,), 2: (20,)})
    assert items.process.running()
    log = items.log_since(offset)
    assert "V1 table evolving_items has new columns the mapping does not read: note" in log
    assert SECRET not in log
    topic = DeadLetterTopic(items.stack.settings.kafka_bootstrap, items.dead_letter_topic)
    assert [e for e in topic.read() if e.table == "evolving_items"] == []


def test_a_change_that_does_not_fit_v1s_catalog_is_dead_lettered_and_the_stream_goes_on(
    items: OwnTable,
) -> None:
    """A change carrying a column V1 does not have (as one captured before a column was dropped would)."""
    bootstrap = items.stack.settings.kafka_bootstrap
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    source = {
        **{"version": "3.1.3.Final", "connector": "postgresql", "name": "v1", "snapshot": "false"},
        **{"ts_ms": 1_700_000_000_000, "ts_us": 1_700_000_000_000_000, "db": "brokerage", "txId": 1},
        **{"schema": "public", "table": "evolving_items", "lsn": 1, "sequence": '["1","1"]', "xmin": None},
    }
    value = {"before": None, "after": {"id": 3, "qty": 30, "dropped": 1}, "source": source, "op": "c"}
    producer.send("v1.public.evolving_items", key=b'{"id":3}', value=orjson.dumps(value))
    producer.flush()
    producer.close()
    with items.v1() as v1:
        v1.execute("INSERT INTO evolving_items VALUES (4, 40)")
    eventually(lambda: items.v2_rows().get(4) == (40,))
    topic = DeadLetterTopic(bootstrap, items.dead_letter_topic)
    entries = eventually(lambda: [e for e in topic.read() if e.table == "evolving_items"])
    assert [e.reason for e in entries] == ["SCHEMA_MISMATCH"]
    assert 3 not in items.v2_rows()
    assert items.process.running()


def test_a_truncate_in_v1_is_dead_lettered_with_the_repair_not_lost(items: OwnTable) -> None:
    """Guarantee 1: V1 emptying a table is a change too. Replication does not empty V2's table (see
    ``pipeline.truncate``): the truncate is dead-lettered as TRUNCATE, naming the V2 table and the
    commands that find and remove what it keeps, and the stream goes on."""
    with items.v1() as v1:
        v1.execute("TRUNCATE evolving_items")
        v1.execute("INSERT INTO evolving_items VALUES (5, 50)")
    eventually(lambda: items.v2_rows().get(5) == (50,))
    assert {1, 2, 4} <= set(items.v2_rows()), "V2 keeps the rows: a truncate is not replicated"
    topic = DeadLetterTopic(items.stack.settings.kafka_bootstrap, items.dead_letter_topic)
    entries = eventually(lambda: [e for e in topic.read() if e.reason == "TRUNCATE"])
    message = dict(entries[0].headers)["__connect.errors.exception.message"].decode()
    assert message == (
        "V1 truncated public.evolving_items; V2's evolving_items keep the rows it had: "
        "`replicator verify --table evolving_items` finds them, "
        "`replicator repair extra --table evolving_items` removes them"
    )
    assert items.process.running()
