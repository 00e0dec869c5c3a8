"""A worker's ``Processor`` on the test stack, for tests that apply records or rows without Kafka."""

from __future__ import annotations

from typing import Any

from replicator.mapping.catalog import Catalog
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.worker.processor import DeadLetterSink, Processor


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
