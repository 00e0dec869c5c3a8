"""Guarantee 5, PostgreSQL's infinite timestamps and dates: V1's 'infinity' and '-infinity' in
timestamp, timestamp(3), timestamptz, date and date[] columns reach V2 as exactly those values through
Debezium and a worker, and ``replicator verify`` (which reads both databases through psycopg) finds V2
equal to V1. Before, the worker dead-lettered such rows, and the load and verify failed on psycopg's
DataError reading them."""

from __future__ import annotations

import pytest

from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture
from tests.support.processor import load_own_table

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROWS = """
INSERT INTO endless_items VALUES
  (1, 'infinity', 'infinity', 'infinity', 'infinity', '{infinity,2024-01-02}'),
  (2, '-infinity', '-infinity', '-infinity', '-infinity', '{-infinity,NULL}'),
  (3, '9999-12-31 23:59:59.999999', '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.123456+02',
   '9999-12-31', '{2024-01-02}')
"""
TEXT = "SELECT id, ts::text, ts3::text, tstz::text, d::text, ds::text FROM endless_items ORDER BY id"


items = own_table_fixture(
    table="endless_items",
    columns="id integer PRIMARY KEY, ts timestamp, ts3 timestamp(3), tstz timestamptz, d date, ds date[]",
    index=20,
)


def test_infinite_timestamps_and_dates_reach_v2_exactly_and_verify(items: OwnTable) -> None:
    utc = "SET TIME ZONE 'UTC'"
    expected = items.rows("v1", utc, ROWS, TEXT)
    eventually(lambda: len(items.rows("v2", utc, TEXT)) == 3)
    assert items.rows("v2", utc, TEXT) == expected
    assert expected[0][1:5] == ("infinity",) * 4 and expected[1][1:5] == ("-infinity",) * 4
    done = items.replicator("verify", "--table", "endless_items", "--restart")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]


def test_the_initial_loads_reader_and_writer_carry_them_too(items: OwnTable) -> None:
    """The load reads V1 through psycopg (``load.source.read_table``) and writes V2 with the workers'
    Processor: the same values arrive, the infinities and a date array mixing them included."""
    utc = "SET TIME ZONE 'UTC'"
    expected = items.rows("v2", utc, TEXT)
    load_own_table(items)
    assert items.rows("v2", utc, TEXT) == expected


keys = own_table_fixture(table="endless_keys", columns="at timestamp PRIMARY KEY, body text", index=26)
KEYS_TEXT = "SELECT at::text, body FROM endless_keys ORDER BY at"


def test_an_infinite_key_is_updated_and_deleted_beside_finite_ones(keys: OwnTable) -> None:
    """Deletes match their keys through arrays (``sink.keys.matching``): psycopg dumps a list by its first
    element, so an infinite key went as 9999-12-31 23:59:59.999999, matched nothing, and V2 kept the row."""
    keys.rows(
        "v1",
        "INSERT INTO endless_keys VALUES ('infinity', 'a'), ('-infinity', 'b'), ('2024-01-01', 'c'),"
        " ('9999-12-31 23:59:59.999999', 'd') RETURNING at",
    )
    eventually(lambda: len(keys.rows("v2", KEYS_TEXT)) == 4)
    keys.rows("v1", "UPDATE endless_keys SET body = 'a2' WHERE at = 'infinity' RETURNING at")
    keys.rows("v1", "DELETE FROM endless_keys WHERE at IN ('infinity', '2024-01-01') RETURNING at")
    expected = keys.rows("v1", KEYS_TEXT)
    assert expected == [("-infinity", "b"), ("9999-12-31 23:59:59.999999", "d")]
    eventually(lambda: keys.rows("v2", KEYS_TEXT) == expected)
