"""A row V2 itself rejects (a constraint the mapping cannot know) is dead-lettered; the rest of its batch
is applied. The set-based write fails first, is rolled back to its savepoint, and the batch is written
again row by row — whatever the failed attempt created inside the savepoint (staging tables) is gone.
"""

from __future__ import annotations

import psycopg
import pytest

from replicator.pipeline.deadletter import H_REASON
from replicator.stack.manager import Stack
from tests.support.archived import archived, archived_feed

pytestmark = [pytest.mark.integration]

IDS = (990_001, 990_002, 990_003)


@pytest.mark.parametrize("copy_direct", [False, True], ids=["upsert", "copy-direct"])
def test_a_row_v2_rejects_is_dead_lettered_and_its_batch_is_applied(stack: Stack, copy_direct: bool) -> None:
    settings = stack.settings
    # copy_direct is the load's way: the COPY meets users_email_key first, then the upsert does.
    with archived_feed(settings, IDS, copy_direct=copy_direct) as feed:
        # The second row's e-mail lower-cases to the first's: V2's users_email_key rejects it.
        totals = feed.apply(
            [
                archived(IDS[0], "sink.constraint@example.com"),
                archived(IDS[1], "Sink.Constraint@example.com"),
                archived(IDS[2], "another.sink.constraint@example.com"),
            ]
        ).totals()
        assert totals.get("applied") == 2 and totals.get("dead_lettered") == 1, totals
        assert len(feed.sent) == 1
        assert dict(feed.sent[0][2])[H_REASON] == b"SINK_CONSTRAINT"
        with psycopg.connect(settings.v2_admin.conninfo()) as v2:
            written = v2.execute("SELECT id FROM public.users WHERE id = ANY(%s) ORDER BY id", [list(IDS)])
            assert [r[0] for r in written] == [IDS[0], IDS[2]]
