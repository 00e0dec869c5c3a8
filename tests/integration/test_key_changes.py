"""A V1 row whose primary key changes (Debezium: a delete of the old key, a create of the new) moves in V2
too, a whole-table key shift in one statement included, and a key that was deleted can be taken again:
the delete marker holds back replays of older changes, not a newer insert."""

from __future__ import annotations

import pytest

from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

keyed = own_table_fixture(table="keyed_rows", columns="id integer PRIMARY KEY, body text", index=27)
TEXT = "SELECT id, body FROM keyed_rows ORDER BY id"


def test_key_changes_move_the_v2_row_and_a_deleted_key_is_taken_again(keyed: OwnTable) -> None:
    keyed.rows("v1", "INSERT INTO keyed_rows VALUES (1, 'a'), (2, 'b'), (3, 'c') RETURNING id")
    eventually(lambda: len(keyed.rows("v2", TEXT)) == 3)
    keyed.rows("v1", "UPDATE keyed_rows SET id = 100 WHERE id = 1 RETURNING id")
    keyed.rows("v1", "UPDATE keyed_rows SET id = id + 10 RETURNING id")  # 110, 12, 13
    keyed.rows("v1", "UPDATE keyed_rows SET id = 2 WHERE id = 12 RETURNING id")  # 2 was deleted above
    expected = keyed.rows("v1", TEXT)
    assert expected == [(2, "b"), (13, "c"), (110, "a")]
    eventually(lambda: keyed.rows("v2", TEXT) == expected)
