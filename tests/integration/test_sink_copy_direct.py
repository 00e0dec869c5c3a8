"""The initial load COPYs its rows straight into the V2 tables (``Processor(copy_direct=True)``): no
staging table, no INSERT … ON CONFLICT. A row V2 already has must still be overwritten, as the upsert
would: the COPY meets the key, is rolled back to its savepoint, the batch is upserted through the stage,
and that table is upserted from then on. A row V2 rejects for another reason is dead-lettered as before
(``test_sink_constraint``)."""

from __future__ import annotations

import psycopg
import pytest

from replicator.stack.manager import Stack
from tests.support.archived import archived, archived_feed

pytestmark = [pytest.mark.integration]

IDS = (991_001, 991_002, 991_003)


def _row(id_: int, first_name: str) -> dict[str, object]:
    return archived(id_, f"copy.direct.{id_}@example.com", first_name)


def _names(stack: Stack) -> dict[int, str]:
    with psycopg.connect(stack.settings.v2_admin.conninfo()) as v2:
        rows = v2.execute("SELECT id, first_name FROM public.users WHERE id = ANY(%s)", [list(IDS)])
        return dict(rows.fetchall())


def test_new_rows_are_copied_straight_in_and_a_row_v2_has_is_overwritten(stack: Stack) -> None:
    with archived_feed(stack.settings, IDS, record_versions=False, copy_direct=True) as feed:
        direct = feed.processor.copy_direct
        assert "users" in direct

        assert feed.apply([_row(IDS[0], "First"), _row(IDS[1], "First")]).totals().get("applied") == 2
        assert _names(stack) == {IDS[0]: "First", IDS[1]: "First"}
        assert "users" in direct  # nothing met a key: the rows went straight in

        # One row of this batch is in V2 already: the COPY meets its key and the whole batch is upserted.
        totals = feed.apply([_row(IDS[1], "Second"), _row(IDS[2], "Second")]).totals()
        assert totals.get("applied") == 2, totals
        assert _names(stack) == {IDS[0]: "First", IDS[1]: "Second", IDS[2]: "Second"}
        assert "users" not in direct
        assert feed.sent == []

        # From then on the table is upserted: a row V2 has is overwritten without a failed COPY first.
        assert feed.apply([_row(IDS[0], "Third")]).totals().get("applied") == 1
        assert _names(stack)[IDS[0]] == "Third"
