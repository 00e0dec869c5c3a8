"""Guarantee 5 at the edges of PostgreSQL's number types: NaN and ±Infinity in numeric (PostgreSQL 14
and later) and in float4/float8, their arrays, negative zero and extreme precision and scale — through
Debezium and a worker into V2 exactly. Where the pinned Debezium loses a value (a numeric[] holding NaN
or ±Infinity comes as null), ``verify`` finds the rows and ``repair missing`` writes V1's values."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture

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
