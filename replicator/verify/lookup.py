"""Does a referenced parent exist in V1 *through the mapping*? The V1 side of the orphan expectation.

A parent is present when some table mapping of its V2 table turns a V1 row into that V2 key (filters
included: a soft-deleted note is not a parent) and the parent is not itself left out of V2 by a
``drop``/``dead_letter`` orphan of its own (checked recursively, as ``build_v2(complete=True)`` does;
a reference cycle counts as present). A parent whose key the mapping computes by a transform cannot
be looked up and counts as absent, as in ``replicator.sink.v1.v1_presence``.

Answers are memoized for the lifetime of the object: make one per V1 snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from replicator.mapping.engine import MappingEngine, Upsert
from replicator.mapping.model import Mapping as MappingModel
from replicator.mapping.model import OnOrphan
from replicator.mapping.sql import copied_column
from replicator.pipeline.fk import FkGraph, ParentRef, RowId, canonical_key, parent_refs
from replicator.verify.chunks import Key
from replicator.verify.expected import ExpectedRow, map_source_rows
from replicator.verify.sql import lookup_sql

__all__ = ["ParentLookup"]

_BATCH = 1000
_REMOVING = frozenset({OnOrphan.DROP, OnOrphan.DEAD_LETTER})


class ParentLookup:
    def __init__(
        self, conn: psycopg.Connection[Any], mapping: MappingModel, engine: MappingEngine, graph: FkGraph
    ) -> None:
        self.conn = conn
        self.mapping = mapping
        self.engine = engine
        self.graph = graph
        self._memo: dict[RowId, bool] = {}

    def presence(self, refs: Mapping[RowId, ParentRef]) -> dict[RowId, bool]:
        """Parent row id → present in V1 through the mapping."""
        todo = {rid: ref for rid, ref in refs.items() if rid not in self._memo}
        if todo:
            self._resolve(todo, set())
        return {rid: self._memo[rid] for rid in refs}

    def _resolve(self, refs: Mapping[RowId, ParentRef], visiting: set[RowId]) -> None:
        by_table: dict[str, dict[RowId, ParentRef]] = {}
        for rid, ref in refs.items():
            by_table.setdefault(ref.table, {})[rid] = ref
        for table, group in by_table.items():
            rows = self._fetch(table, [ref.key for ref in group.values()])
            found: dict[RowId, ExpectedRow] = {}
            for rid, ref in group.items():
                row = rows.get(canonical_key(ref.key))
                if row is None:
                    self._memo[rid] = False
                else:
                    found[rid] = row
            visiting.update(found)
            grand: dict[RowId, ParentRef] = {}
            for row in found.values():
                for sub in self._removing_refs(table, row):
                    if sub.id not in self._memo and sub.id not in visiting:
                        grand.setdefault(sub.id, sub)
            if grand:
                self._resolve(grand, visiting)
            for rid, row in found.items():
                self._memo[rid] = all(self._memo.get(s.id, True) for s in self._removing_refs(table, row))

    def _removing_refs(self, table: str, row: ExpectedRow) -> list[ParentRef]:
        refs = parent_refs(Upsert(table, "", row.key, row.values, frozenset()), self.graph)
        return [r for r in refs if self.graph.policies[r.relationship].on_orphan in _REMOVING]

    def _fetch(self, table: str, keys: list[Key]) -> dict[str, ExpectedRow]:
        """The V2 rows of ``table`` with these keys that V1 produces through the mapping."""
        key_order = self.graph.keys.get(table, ())
        sources: list[tuple[str, dict[str, object]]] = []
        for m in self.mapping.mappings_for_target(table):
            columns = [copied_column(m, k) for k in key_order]
            if any(c is None for c in columns):
                continue  # computed key: cannot be looked up (counts as absent, as for the worker)
            v1_columns = [c for c in columns if c]
            for start in range(0, len(keys), _BATCH):
                statement, params = lookup_sql(
                    self.mapping.source_schema, m.source, v1_columns, keys[start : start + _BATCH]
                )
                with self.conn.cursor(row_factory=dict_row) as cur:
                    sources.extend((m.source, row) for row in cur.execute(statement, params))
        return map_source_rows(self.engine, table, sources)
