"""Key-array statements on a real PostgreSQL: they match exactly the listed keys, and the planner probes
the key index once per key instead of reading the whole table (the hash join of an unanalysed staging
table did; that was 41% of V2's time in the backlog benchmark)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
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


@pytest.fixture
def typed(v2: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """Keys whose SQL cast could differ from what COPY writes: bounded lengths, numerics."""
    v2.execute("DROP SCHEMA IF EXISTS keys_test CASCADE")
    v2.execute("CREATE SCHEMA keys_test")
    for table, column in [
        ("codes", "varchar(8)"),
        ("padded", "char(4)"),
        ("flags", "bit(4)"),
        ("amounts", "numeric"),
        ("cents", "numeric(10,2)"),
    ]:
        v2.execute(f"CREATE TABLE keys_test.{table} (k {column} PRIMARY KEY)")
    yield v2  # autocommit
    v2.execute("DROP SCHEMA keys_test CASCADE")


def _copy(conn: psycopg.Connection[Any], table: str, values: list[object]) -> None:
    """Rows written as the sink writes them: COPY, each value dumped as text by psycopg."""
    with conn.cursor().copy(sql.SQL("COPY {} (k) FROM STDIN").format(sql.Identifier(SCHEMA, table))) as copy:
        for value in values:
            copy.write_row([value])


def _delete(conn: psycopg.Connection[Any], table: str, value: object) -> list[Any]:
    """Delete the row of key ``value``; what the table keeps."""
    catalog = read_catalog(conn, SCHEMA)
    statement, params = select_keys(catalog, table, ("k",), ("k",), [(value,)])
    found = conn.execute(statement, params).fetchall()
    statement, params = delete_keys(catalog, table, ("k",), [(value,)])
    deleted = conn.execute(statement, params).rowcount
    assert deleted == len(found), (table, value, found)
    kept = sql.SQL("SELECT k FROM {} ORDER BY k").format(sql.Identifier(SCHEMA, table))
    return [r[0] for r in conn.execute(kept)]


def test_a_key_matches_exactly_the_row_copy_wrote_for_it(typed: psycopg.Connection[Any]) -> None:
    """A longer value must not match the row of its truncation (an explicit ``::varchar(8)`` cast
    truncates where COPY refuses); a float key must match by its exact digits (``float8::numeric``
    keeps 15); a numeric rounded by its column's scale matches as COPY rounded it."""
    _copy(typed, "codes", ["ABCDEFGH", "XY"])
    assert _delete(typed, "codes", "ABCDEFGHIJ") == ["ABCDEFGH", "XY"]
    assert _delete(typed, "codes", "XY") == ["ABCDEFGH"]

    _copy(typed, "padded", ["AB", "ABCD"])
    assert _delete(typed, "padded", "ABCDE") == ["AB  ", "ABCD"]
    assert _delete(typed, "padded", "AB") == ["ABCD"]

    _copy(typed, "flags", ["1010", "0001"])
    assert _delete(typed, "flags", "10101") == ["0001", "1010"]

    _copy(typed, "amounts", [1.0, 0.30000000000000004])
    assert _delete(typed, "amounts", 1.0000000000000002) == [Decimal("0.30000000000000004"), Decimal("1.0")]
    assert _delete(typed, "amounts", 0.30000000000000004) == [Decimal("1.0")]

    _copy(typed, "cents", [Decimal("1.005"), Decimal("2.50")])
    assert _delete(typed, "cents", Decimal("1.005")) == [Decimal("2.50")]


def test_text_lists_come_back_from_postgresql_exactly(v2: psycopg.Connection[Any]) -> None:
    """``sink.lists``: what the bookkeeping statements pass is what PostgreSQL unnests, value for value."""
    from replicator.sink import lists

    keys = ['[["t","a,b {c} \\"d\\" \\\\ é"]]', " spaced ", "NULL", "", '[["i","7"]]']
    positions, flags = [0, 2**63 - 1, -5, 42, 7], [True, False, True, False, False]
    statement = lists.statement("SELECT * FROM unnest(<texts>, <ints>, <bools>)")
    rows = v2.execute(statement, [lists.texts(keys), lists.ints(positions), lists.bools(flags)]).fetchall()
    assert rows == list(zip(keys, positions, flags, strict=True))
    empty = lists.statement("SELECT count(*) FROM unnest(<texts>, <ints>)")
    assert v2.execute(empty, [lists.texts([]), lists.ints([])]).fetchone() == (0,)
