"""Key-array statements on a real PostgreSQL: they match exactly the listed keys, and the planner probes
the key index once per key instead of reading the whole table (the hash join of an unanalysed staging
table did; that was 41% of V2's time in the backlog benchmark)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from replicator.mapping.catalog import read_catalog
from replicator.sink.keys import delete_keys, select_keys

pytestmark = [pytest.mark.integration]

SCHEMA = "keys_test"
ROWS = 20_000


@pytest.fixture
def wide(v2: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    v2.execute("DROP SCHEMA IF EXISTS keys_test CASCADE")
    v2.execute("CREATE SCHEMA keys_test")
    v2.execute("CREATE TABLE keys_test.wide (region text, id bigint, payload text, PRIMARY KEY (region, id))")
    v2.execute(
        "INSERT INTO keys_test.wide SELECT 'r' || (i %% 7), i, repeat('x', 40) FROM generate_series(1, %s) i",
        [ROWS],
    )
    v2.execute("ANALYZE keys_test.wide")
    yield v2  # autocommit
    v2.execute("DROP SCHEMA keys_test CASCADE")


def _plan(conn: psycopg.Connection[Any], statement: sql.Composed, params: list[object]) -> str:
    return "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + statement, params))


def test_delete_keys_deletes_exactly_the_listed_rows_through_the_key_index(
    wide: psycopg.Connection[Any],
) -> None:
    catalog = read_catalog(wide, SCHEMA)
    keys = [(f"r{i % 7}", i) for i in (3, 500, 19_999)] + [("r0", 10**12)]  # the last one is absent
    statement, params = delete_keys(catalog, "wide", ("region", "id"), keys)
    plan = _plan(wide, statement, params)
    assert "Index" in plan and "Seq Scan on wide" not in plan, plan
    deleted = wide.execute(statement, params).rowcount
    assert deleted == 3
    left = wide.execute("SELECT count(*) FROM keys_test.wide").fetchone()
    assert left is not None and left[0] == ROWS - 3
    gone = wide.execute("SELECT count(*) FROM keys_test.wide WHERE id IN (3, 500, 19999)").fetchone()
    assert gone is not None and gone[0] == 0


def test_select_keys_selects_match_then_key_through_the_key_index(wide: psycopg.Connection[Any]) -> None:
    catalog = read_catalog(wide, SCHEMA)
    key = ("region", "id")
    statement, params = select_keys(catalog, "wide", key, key, [("r1", 8), ("r2", 8)])
    assert "Seq Scan on wide" not in _plan(wide, statement, params)
    assert wide.execute(statement, params).fetchall() == [("r1", 8, "r1", 8)]
