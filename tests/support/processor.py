"""A worker's ``Processor`` on the test stack, for tests that apply records or rows without Kafka."""

from __future__ import annotations

from typing import Any

import psycopg

from replicator.load.records import RecordBuilder
from replicator.load.source import read_table
from replicator.mapping.catalog import Catalog, read_catalog
from replicator.mapping.model import Mapping, load_mapping
from replicator.settings import Settings
from replicator.worker.processor import DeadLetterSink, Processor
from tests.support.own_table import OwnTable


def stack_processor(
    settings: Settings,
    mapping: Mapping,
    catalogs: tuple[Catalog, Catalog],
    dead_letters: DeadLetterSink,
    **options: Any,
) -> Processor:
    """V1 read as the replication role, V2 written as the writer, as a worker does."""
    return Processor(
        mapping=mapping,
        v1_catalog=catalogs[0],
        v2_catalog=catalogs[1],
        v2_conninfo=settings.v2_writer.conninfo(),
        v1_conninfo=settings.v1_replication.conninfo(),
        dead_letters=dead_letters,
        connector_name=settings.connector_name,
        **options,
    )


def seeded_catalogs(settings: Settings, mapping: Mapping, scale: float) -> tuple[Catalog, Catalog]:
    """V1 and V2 seeded with the demo at ``scale``; their catalogs, V1's and V2's."""
    from replicator.demo.load import seed

    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=scale)
        return read_catalog(v1, mapping.source_schema), read_catalog(v2, mapping.target_schema)


def load_own_table(items: OwnTable) -> None:
    """Empty an own table in V2 (and its row versions, as the load's --reset-state would), then load it
    again the way ``replicator load`` does: V1 read through psycopg (``load.source.read_table``), the
    rows applied by the workers' Processor; every row must be applied."""
    settings = items.stack.settings
    with items.v2() as v2:
        v2.execute(f"DELETE FROM public.{items.table}")  # noqa: S608 - a test's own table name
        v2.execute("DELETE FROM replicator.row_version WHERE tbl = %s", [items.table])
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        catalogs = read_catalog(v1, "public"), read_catalog(v2, "public")
    table = catalogs[0].table(items.table)
    assert table is not None
    processor = stack_processor(
        settings,
        load_mapping(items.mapping_path),
        catalogs,
        lambda records: None,
        record_versions=False,
        wait_when_refused=False,
    )
    topic = f"v1.public.{items.table}"
    builder = RecordBuilder(table, schema="public", topic=topic, connector="v1", lsn=1, taken_us=0)
    try:
        with psycopg.connect(settings.v1_admin.conninfo()) as reader:
            for rows in read_table(reader, "public", table, batch_rows=10):
                result = processor.process_rows(builder.sources(rows))
                assert result.ledger.totals().get("applied") == len(rows), result.ledger.totals()
    finally:
        processor.close()
