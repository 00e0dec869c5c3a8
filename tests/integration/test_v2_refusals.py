"""Guarantee 6, V2 refusing what a running worker writes. A column renamed in V2 under the worker (schema
drift) refuses every row alike: the worker keeps running, commits nothing, says why (log, /ready,
``replicator_apply_retries_total``) without row values, and applies what waited once V2 is fixed. A V2
trigger refusing one row refuses that row: it is dead-lettered (SINK_CONSTRAINT, its SQLSTATE) and the
stream goes on. Before, both crashed the worker with the driver's message in its log."""

from __future__ import annotations

import time

import pytest

from replicator.dlq.topic import DeadLetterTopic
from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "s3cret-row-value"


items = own_table_fixture(
    table="refusal_items", columns="id integer PRIMARY KEY, name text NOT NULL", index=17
)


def insert_v1(items: OwnTable, *rows: tuple[int, str]) -> None:
    with items.v1() as v1:
        for row in rows:
            v1.execute("INSERT INTO refusal_items VALUES (%s, %s)", row)


def name_of(items: OwnTable, key: int) -> object:
    return items.v2_rows().get(key, (None,))[0]


def test_a_column_renamed_in_v2_under_the_worker_holds_the_stream_until_it_is_fixed(items: OwnTable) -> None:
    insert_v1(items, (1, "before"))
    eventually(lambda: name_of(items, 1) == "before")
    offset = items.log_size()
    with items.v2() as v2:
        v2.execute("ALTER TABLE refusal_items RENAME COLUMN name TO title")
        try:
            insert_v1(items, (2, SECRET))
            failure = eventually(lambda: items.ready()["failures"].get("apply"), timeout=60)
            assert failure.startswith("V2 refused the batch: UndefinedColumn (sqlstate 42703)"), failure
            assert 'column "name" of relation "refusal_items" does not exist' in failure
            time.sleep(3)  # a few retries
            assert items.process.running(), "the worker must wait for V2, not crash"
            assert 'replicator_apply_retries_total{error="DatabaseRefusedError"}' in items.metrics()
        finally:
            v2.execute("ALTER TABLE refusal_items RENAME COLUMN title TO name")
    eventually(lambda: name_of(items, 2) == SECRET, timeout=90)  # the same process, once V2 is fixed
    assert items.process.running()
    assert "apply" not in items.ready()["failures"]
    log = items.log_since(offset)
    assert "V2 refused the batch: UndefinedColumn (sqlstate 42703)" in log
    assert SECRET not in log
    assert "Traceback" not in log


def test_a_row_a_v2_trigger_refuses_is_dead_lettered_and_the_stream_goes_on(items: OwnTable) -> None:
    offset = items.log_size()
    with items.v2() as v2:
        v2.execute(
            "CREATE OR REPLACE FUNCTION refuse_items() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.name LIKE 'refuse%' THEN RAISE EXCEPTION 'refused %', NEW.name; END IF;"
            " RETURN NEW; END $$"
        )
        v2.execute(
            "CREATE TRIGGER refuse_items BEFORE INSERT OR UPDATE ON refusal_items "
            "FOR EACH ROW EXECUTE FUNCTION refuse_items()"
        )
        try:
            insert_v1(items, (10, f"refuse {SECRET}"), (11, "accepted"))
            eventually(lambda: name_of(items, 11) == "accepted")
            topic = DeadLetterTopic(items.stack.settings.kafka_bootstrap, items.dead_letter_topic)
            entries = eventually(lambda: [e for e in topic.read() if e.table == "refusal_items"])
        finally:
            v2.execute("DROP TRIGGER refuse_items ON refusal_items")
    assert 10 not in items.v2_rows()
    assert [e.reason for e in entries] == ["SINK_CONSTRAINT"]
    headers = dict(entries[0].headers)
    assert (
        headers["__replicator.missing_ref"]
        == b"V2 rejected a row of refusal_items: sqlstate P0001, constraint None"
    )
    assert items.process.running()
    assert SECRET not in items.log_since(offset)
