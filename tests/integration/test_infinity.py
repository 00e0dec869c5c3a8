"""Guarantee 5, PostgreSQL's infinite timestamps and dates: V1's 'infinity' and '-infinity' in
timestamp, timestamp(3), timestamptz, date and date[] columns reach V2 as exactly those values through
Debezium and a worker, and ``replicator verify`` (which reads both databases through psycopg) finds V2
equal to V1. Before, the worker dead-lettered such rows, and the load and verify failed on psycopg's
DataError reading them."""

from __future__ import annotations

import psycopg
import pytest

from replicator.load.records import RecordBuilder
from replicator.load.source import read_table
from replicator.mapping.catalog import read_catalog
from replicator.mapping.model import load_mapping
from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture
from tests.support.processor import stack_processor

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROWS = """
INSERT INTO endless_items VALUES
  (1, 'infinity', 'infinity', 'infinity', 'infinity', '{infinity,2024-01-02}'),
  (2, '-infinity', '-infinity', '-infinity', '-infinity', '{-infinity,NULL}'),
  (3, '9999-12-31 23:59:59.999999', '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.123456+02',
   '9999-12-31', '{2024-01-02}')
"""
TOPIC = "v1.public.endless_items"
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
    settings = items.stack.settings
    with items.v2() as v2:
        v2.execute("SET TIME ZONE 'UTC'")
        expected = v2.execute(TEXT).fetchall()
        v2.execute("DELETE FROM endless_items")
        # the stream's row versions would hold the older snapshot position back (as the load's
        # --reset-state would, they go)
        v2.execute("DELETE FROM replicator.row_version WHERE tbl = 'endless_items'")
    mapping = load_mapping(items.mapping_path)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        v1_catalog, v2_catalog = read_catalog(v1, "public"), read_catalog(v2, "public")
    table = v1_catalog.table("endless_items")
    assert table is not None
    processor = stack_processor(
        settings,
        mapping,
        (v1_catalog, v2_catalog),
        lambda records: None,
        record_versions=False,
        wait_when_refused=False,
    )
    builder = RecordBuilder(table, schema="public", topic=TOPIC, connector="v1", lsn=1, taken_us=0)
    try:
        with psycopg.connect(settings.v1_admin.conninfo()) as reader:
            for rows in read_table(reader, "public", table, batch_rows=10):
                result = processor.process_rows(builder.sources(rows))
                assert result.ledger.totals().get("applied") == len(rows), result.ledger.totals()
    finally:
        processor.close()
    with items.v2() as v2:
        v2.execute("SET TIME ZONE 'UTC'")
        assert v2.execute(TEXT).fetchall() == expected
