"""V1 rows read by the initial load → the Kafka records Debezium's snapshot would have carried. Pure.

Each row becomes a snapshot read (``op: r``) on its table's topic, keyed like Debezium keys it, so the
worker's ``Processor`` applies it exactly as it applies a streamed change, and a row that ends in the
dead-letter topic can be replayed like any other. What differs is where the record did not come from:

* ``partition`` is ``LOAD_PARTITION`` (-1; Kafka partitions start at 0) and ``offset`` counts the
  table's rows, so dead letters and parked items of the load name their row without naming a Kafka
  position that does not exist; the header ``replicator.origin: initial-load`` says so too;
* the position is ``(commit_lsn 0, lsn = the slot's consistent point)``: below every change the slot
  streams afterwards (their commit LSN is past the consistent point, and never 0). Loaded rows store
  no row version (``Processor(record_versions=False)``); the position orders a row's parked items.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson

from replicator import __version__
from replicator.mapping.catalog import CatalogTable
from replicator.mapping.engine import Op, SourceRow
from replicator.pipeline.encode import RowEncoder
from replicator.pipeline.envelope import Position
from replicator.worker.processor import Record, Sourced, SourceRecord

__all__ = ["LOAD_PARTITION", "ORIGIN_HEADER", "RecordBuilder"]

LOAD_PARTITION = -1
ORIGIN_HEADER = ("replicator.origin", b"initial-load")


class RecordBuilder:
    """Builds the records of one V1 table at one snapshot."""

    def __init__(
        self,
        table: CatalogTable,
        *,
        schema: str,
        topic: str,
        connector: str,
        lsn: int,
        taken_us: int,
        first_offset: int = 0,
        offset_step: int = 1,
    ) -> None:
        self.topic = topic
        self.table = table.name
        self.position = Position(commit_lsn=0, lsn=lsn)
        self.taken_us = taken_us
        self._encoder = RowEncoder(table)
        self._key = table.primary_key
        self._source = {
            "version": f"replicator {__version__}",
            "connector": "postgresql",
            "name": connector,
            "ts_ms": taken_us // 1000,
            "ts_us": taken_us,
            "snapshot": "true",
            "schema": schema,
            "table": table.name,
            "txId": None,
            "lsn": lsn,
            "sequence": orjson.dumps(["0", str(lsn)]).decode(),
        }
        self._envelope_tail = {"source": self._source, "op": "r", "ts_ms": taken_us // 1000}
        # Several loading processes share a table: process k of n numbers its rows k, k + n, k + 2n, …
        self.offset = first_offset  # the next row's offset
        self._step = offset_step

    def sources(self, rows: Sequence[dict[str, Any]]) -> list[SourceRecord]:
        """The rows for ``Processor.process_rows``: values as they are, the record only on demand."""
        out = []
        for row in rows:
            sourced = Sourced(
                SourceRow(self.table, Op.READ, None, row),
                self.position,
                self.taken_us,
                self.topic,
                LOAD_PARTITION,
                self.offset,
            )
            out.append(SourceRecord(sourced, partial(self._record, row, self.offset)))
            self.offset += self._step
        return out

    def _record(self, row: dict[str, Any], offset: int) -> Record:
        after = self._encoder.encode(row)
        key = orjson.dumps({k: after[k] for k in self._key}) if self._key else None
        value = orjson.dumps({"before": None, "after": after, **self._envelope_tail})
        return Record(self.topic, LOAD_PARTITION, offset, key, value, (ORIGIN_HEADER,))
