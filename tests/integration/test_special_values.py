"""Guarantee 5 at the edges of PostgreSQL's number types: NaN and ±Infinity in numeric (PostgreSQL 14
and later) and in float4/float8, their arrays, negative zero and extreme precision and scale — through
Debezium and a worker into V2 exactly. Where the pinned Debezium loses a value (a numeric[] holding NaN
or ±Infinity comes as null), ``verify`` finds the rows and ``repair missing`` writes V1's values."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture
from tests.support.processor import load_own_table

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROWS = """
INSERT INTO special_numbers VALUES
  (1, 'NaN', 'NaN', 'NaN', '{NaN,1.5}', '{NaN,1.5}'),
  (2, 'Infinity', 'Infinity', 'Infinity', '{Infinity,-Infinity}', '{Infinity,-Infinity,NULL}'),
  (3, '-Infinity', '-Infinity', '-Infinity', '{}', '{}'),
  (4, '-0.000000000000000000001', '-0', '-0', '{0.1,-0.0}', '{-0,1e-300}'),
  (5, '123456789012345678901234567890.123456789012345678901234567890', '3.4028235e38',
   '1.7976931348623157e308', NULL, '{4.9e-324}')
"""
TEXT = "SELECT id, n::text, r::text, d::text, ns::text, ds::text FROM special_numbers ORDER BY id"

numbers = own_table_fixture(
    table="special_numbers",
    columns="id integer PRIMARY KEY, n numeric, r real, d double precision, ns numeric[], ds float8[]",
    index=21,
)


def test_nan_infinities_and_extremes_reach_v2_exactly_and_verify(numbers: OwnTable) -> None:
    digits = "SET extra_float_digits = 3"
    expected = numbers.rows("v1", digits, ROWS, TEXT)
    eventually(lambda: len(numbers.rows("v2", digits, TEXT)) == len(expected))
    streamed = numbers.rows("v2", digits, TEXT)
    # Debezium 3.1.3 sends null for a numeric[] holding NaN or ±Infinity (rows 1 and 2): nothing in the
    # event tells a worker; verify finds the rows and repair missing writes V1's value.
    assert [row[4] for row in streamed] == [None, None, "{}", "{0.1,0.0}", None]
    assert [row[:4] + row[5:] for row in streamed] == [row[:4] + row[5:] for row in expected]

    found = numbers.replicator("verify", "--table", "special_numbers", "--restart")
    assert found.returncode == 1, found.stdout + found.stderr[-3000:]
    assert "repair missing --table special_numbers" in " ".join(found.stderr.split())
    repaired = numbers.replicator("repair", "missing", "--table", "special_numbers", "--json")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr[-3000:]
    assert json.loads(repaired.stdout)["tables"][0]["overwritten"] == 2
    assert numbers.rows("v2", digits, TEXT) == expected
    done = numbers.replicator("verify", "--table", "special_numbers", "--restart")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]


TYPED = """
INSERT INTO exotic_types VALUES
  (1, '12.34', B'1010', B'1', '12:34:56.789+05:30', '1 year 2 mons 3 days 04:05:06.789', '192.168.0.1/24',
   '10.0.0.0/8', '08:00:2b:01:02:03', '(1.5,-2.25)', '[1,10)', '[2024-01-01 00:00+00,2024-02-01 00:00+00)',
   '<a>b</a>', 'ab', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '24:00:00', '24:00:00', 'naïve ✓ 𝄞',
   '0044-03-15 12:00'),
  (2, '-0.01', B'0000', B'0', '00:00+00', '-1 days', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', '(0,0)', 'empty',
   '(,)', '<x/>', '', '{}', '00:00', '23:59:59.999', '', '0001-01-01')
"""
TYPED_TEXT = "SELECT row_to_json(e)::text FROM exotic_types e ORDER BY id"

exotic = own_table_fixture(
    table="exotic_types",
    columns="id integer PRIMARY KEY, m money, b bit(4), b1 bit, tz timetz, iv interval, ip inet, net cidr,"
    " mac macaddr, pt point, r int4range, tr tstzrange, x xml, ch char(5), u uuid[], t time, t3 time(3),"
    " tx text, ts timestamp",
    index=22,
)


def test_exotic_types_reach_v2_exactly_but_timetz_which_verify_finds_and_repair_fixes(
    exotic: OwnTable,
) -> None:
    """money, bit(n) (bytes in Debezium's event), timetz, interval (ISO 8601), network types, point (a
    struct), ranges, xml, char(n), uuid[], a time of 24:00:00 (taken for midnight before, silently) and
    astral-plane text. Debezium sends timetz in UTC, so V2 holds the same instant at +00: verify reports
    the row and repair missing writes V1's offset."""
    expected = exotic.rows("v1", TYPED, TYPED_TEXT)
    eventually(lambda: len(exotic.rows("v2", TYPED_TEXT)) == len(expected))
    streamed = exotic.rows("v2", TYPED_TEXT)
    assert streamed[1] == expected[1]
    assert '"tz":"07:04:56.789+00"' in streamed[0][0]
    assert streamed[0][0].replace('"tz":"07:04:56.789+00"', '"tz":"12:34:56.789+05:30"') == expected[0][0]

    found = exotic.replicator("verify", "--table", "exotic_types", "--restart")
    assert found.returncode == 1, found.stdout + found.stderr[-3000:]
    repaired = exotic.replicator("repair", "missing", "--table", "exotic_types", "--json")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr[-3000:]
    assert json.loads(repaired.stdout)["tables"][0]["overwritten"] == 1
    assert exotic.rows("v2", TYPED_TEXT) == expected
    done = exotic.replicator("verify", "--table", "exotic_types", "--restart")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]

    # 1 year 2 mons 3 days is not 428 days in PostgreSQL (nor to psycopg's timedelta, which has no months)
    exotic.rows("v2", "UPDATE exotic_types SET iv = '428 days 04:05:06.789' WHERE id = 1 RETURNING id")
    changed = exotic.replicator("verify", "--table", "exotic_types", "--restart")
    assert changed.returncode == 1, changed.stdout + changed.stderr[-3000:]


def test_the_loads_reader_and_writer_carry_exotic_types_exactly(exotic: OwnTable) -> None:
    """The load reads V1 through psycopg (24:00:00 included: psycopg refused it before) and writes with
    the workers' Processor: every value arrives as V1 holds it, the timetz offset too."""
    expected = exotic.rows("v1", TYPED_TEXT)
    load_own_table(exotic)
    assert exotic.rows("v2", TYPED_TEXT) == expected
