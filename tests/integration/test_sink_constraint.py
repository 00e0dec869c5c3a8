"""A row V2 itself rejects (a constraint the mapping cannot know) is dead-lettered; the rest of its batch
is applied. The set-based write fails first, is rolled back to its savepoint, and the batch is written
again row by row — whatever the failed attempt created inside the savepoint (staging tables) is gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest

from replicator.demo.load import SCHEMAS_DIR
from replicator.load.records import RecordBuilder
from replicator.mapping.model import load_mapping
from replicator.pipeline.deadletter import H_REASON
from replicator.stack.manager import Stack
from replicator.worker.processor import Header
from tests.support.processor import seeded_catalogs, stack_processor

pytestmark = [pytest.mark.integration]

IDS = (990_001, 990_002, 990_003)


def _archived(id_: int, email: str) -> dict[str, Any]:
    return {
        "id": id_,
        "email": email,
        "first_name": "Sink",
        "last_name": "Constraint",
        "phone": "",
        "created_at": datetime(2024, 1, 2, 3, 4, 5),
        "archived_at": datetime(2024, 6, 7, 8, 9, 10),
        "archive_reason": "test",
    }


def test_a_row_v2_rejects_is_dead_lettered_and_its_batch_is_applied(stack: Stack) -> None:
    settings = stack.settings
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    v1_catalog, v2_catalog = seeded_catalogs(settings, mapping, 0.01)
    sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
    processor = stack_processor(settings, mapping, (v1_catalog, v2_catalog), sent.extend)
    table = v1_catalog.table("archived_users")
    assert table is not None
    builder = RecordBuilder(
        table, schema="public", topic="v1.public.archived_users", connector="v1", lsn=1, taken_us=1
    )
    # The second row's e-mail lower-cases to the first's: V2's users_email_key rejects it.
    rows = [
        _archived(IDS[0], "sink.constraint@example.com"),
        _archived(IDS[1], "Sink.Constraint@example.com"),
    ]
    rows.append(_archived(IDS[2], "another.sink.constraint@example.com"))
    try:
        result = processor.process_rows(builder.sources(rows))
        totals = result.ledger.totals()
        assert totals.get("applied") == 2 and totals.get("dead_lettered") == 1, totals
        assert len(sent) == 1
        assert dict(sent[0][2])[H_REASON] == b"SINK_CONSTRAINT"
        with psycopg.connect(settings.v2_admin.conninfo()) as v2:
            written = v2.execute("SELECT id FROM public.users WHERE id = ANY(%s) ORDER BY id", [list(IDS)])
            assert [r[0] for r in written] == [IDS[0], IDS[2]]
    finally:
        processor.close()
        with psycopg.connect(settings.v2_admin.conninfo()) as v2:
            v2.execute("DELETE FROM public.users WHERE id = ANY(%s)", [list(IDS)])
