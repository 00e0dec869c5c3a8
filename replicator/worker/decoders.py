"""Decoding a change's values by V1's catalog, which may change while the workers run.

A worker reads V1's catalog at start-up. During a parallel run of days V1's application keeps being
deployed: a column added to a V1 table makes every later change of that table carry a column the
start-up catalog does not know, and a column's type changed makes its values not fit. ``SourceDecoders``
then reads the table again from V1's live catalog (at most once per ``REFRESH_EVERY_S`` per table) and
decodes the change with it. A new column the mapping does not read is not replicated; the worker says
so once, naming the columns (never values). A change that still does not fit (a column dropped since,
a value of an older type) raises its ``TerminalError`` and is dead-lettered (``SCHEMA_MISMATCH``), as
before: the stream goes on either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg

from replicator.errors import TransientError
from replicator.mapping.catalog import Catalog, CatalogTable
from replicator.mapping.engine import Op, SourceRow
from replicator.mapping.model import Mapping
from replicator.pipeline.envelope import RowChange
from replicator.pipeline.values import RowDecoder, SchemaMismatchError, ValueDecodeError

__all__ = ["REFRESH_EVERY_S", "SourceDecoders"]

log = logging.getLogger("replicator.worker")

REFRESH_EVERY_S = 30.0
"""At most one catalog read per table this often: a backlog of changes that will never fit (a column
dropped since) costs one read, not one per change."""


class SourceDecoders:
    def __init__(
        self,
        mapping: Mapping,
        catalog: Catalog,
        read_catalog: Callable[[], Catalog],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mapping = mapping
        self.catalog = catalog
        self._read_catalog = read_catalog
        self._clock = clock
        self._decoders = {
            t.name: RowDecoder(t) for t in catalog.tables.values() if mapping.mappings_for_source(t.name)
        }
        self._refreshed: dict[str, float] = {}

    def source_row(self, change: RowChange, op: Op) -> SourceRow:
        """The change with Python values; ``TerminalError`` when it does not fit V1's catalog, even
        read again."""
        try:
            return self._decode(change, op)
        except (SchemaMismatchError, ValueDecodeError):
            if not self._refresh(change.table):
                raise
        return self._decode(change, op)

    def _decode(self, change: RowChange, op: Op) -> SourceRow:
        decoder = self._decoders.get(change.table)
        if decoder is None:
            return SourceRow(change.table, op, change.before, change.after, change.unavailable)
        return SourceRow(
            change.table,
            op,
            decoder.decode(change.before) if change.before is not None else None,
            decoder.decode(change.after) if change.after is not None else None,
            change.unavailable,
        )

    def _refresh(self, table: str) -> bool:
        """Read ``table`` from V1's catalog again; False when it was read too recently or cannot be."""
        now = self._clock()
        if now - self._refreshed.get(table, -REFRESH_EVERY_S) < REFRESH_EVERY_S:
            return False
        self._refreshed[table] = now
        try:
            fresh = self._read_catalog()
        except (psycopg.Error, TransientError) as exc:  # V1 away (TransientError: no connection at all)
            log.warning(
                "V1's catalog could not be read again for %s (%s): its change is dead-lettered",
                table,
                type(exc).__name__,
            )
            return False
        current = fresh.table(table)
        if current is None or not self.mapping.mappings_for_source(table):
            return False
        self._report(table, self.catalog.table(table), current)
        self.catalog = Catalog(self.catalog.schema, {**self.catalog.tables, table: current})
        self._decoders[table] = RowDecoder(current)
        return True

    def _report(self, table: str, before: CatalogTable | None, now: CatalogTable) -> None:
        known = set(before.column_names) if before is not None else set()
        added = [c for c in now.column_names if c not in known]
        read = set().union(*(m.inputs for m in self.mapping.mappings_for_source(table)))
        unmapped = [c for c in added if c not in read]
        if unmapped:
            log.warning(
                "V1 table %s has new columns the mapping does not read: %s. Their values are not "
                "replicated; map them (or list them under drop) in the mapping and restart the workers",
                table,
                ", ".join(unmapped),
            )
        else:
            log.warning("V1 table %s changed its columns; its decoder was rebuilt from V1's catalog", table)
