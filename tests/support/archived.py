"""A Processor for the demo mapping on a freshly seeded stack, fed ``archived_users`` rows as the initial
load feeds them (``RecordBuilder``): the sink tests' way to put chosen rows in front of V2."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.load.records import RecordBuilder
from replicator.mapping.catalog import read_catalog
from replicator.mapping.model import load_mapping
from replicator.pipeline.accounting import Ledger
from replicator.pipeline.fk import canonical_key
from replicator.settings import Settings
from replicator.worker.processor import Header, Processor


def archived(id_: int, email: str, first_name: str = "Sink") -> dict[str, Any]:
    """An ``archived_users`` row of V1, as the load reads it."""
    return {
        "id": id_,
        "email": email,
        "first_name": first_name,
        "last_name": "Constraint",
        "phone": "",
        "created_at": datetime(2024, 1, 2, 3, 4, 5),
        "archived_at": datetime(2024, 6, 7, 8, 9, 10),
        "archive_reason": "test",
    }


@dataclass
class ArchivedFeed:
    processor: Processor
    builder: RecordBuilder
    sent: list[tuple[bytes | None, bytes | None, list[Header]]]

    def apply(self, rows: list[dict[str, Any]]) -> Ledger:
        return self.processor.process_rows(self.builder.sources(rows)).ledger


@contextmanager
def archived_feed(settings: Settings, ids: Sequence[int], **options: Any) -> Iterator[ArchivedFeed]:
    """The demo seeded at scale 0.01 and a Processor over it (``options``: its keyword arguments); on
    exit the V2 users ``ids`` and their row versions are deleted (a version left behind would make the
    next run's rows, at the same position, stale)."""
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=0.01)
        v1_catalog = read_catalog(v1, mapping.source_schema)
        v2_catalog = read_catalog(v2, mapping.target_schema)
    sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
    processor = Processor(
        mapping=mapping,
        v1_catalog=v1_catalog,
        v2_catalog=v2_catalog,
        v2_conninfo=settings.v2_writer.conninfo(),
        v1_conninfo=settings.v1_replication.conninfo(),
        dead_letters=sent.extend,
        connector_name=settings.connector_name,
        **options,
    )
    table = v1_catalog.table("archived_users")
    assert table is not None
    builder = RecordBuilder(
        table, schema="public", topic="v1.public.archived_users", connector="v1", lsn=1, taken_us=1
    )
    feed = ArchivedFeed(processor, builder, sent)
    try:
        yield feed
    finally:
        feed.processor.close()
        with psycopg.connect(settings.v2_admin.conninfo()) as v2:
            v2.execute("DELETE FROM public.users WHERE id = ANY(%s)", [list(ids)])
            keys = [canonical_key((i,)) for i in ids]
            v2.execute("DELETE FROM replicator.row_version WHERE tbl = 'users' AND pk = ANY(%s)", [keys])
