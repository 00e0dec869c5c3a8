"""What one chunk of a V2 table must hold: V1 rows through the mapping, orphan policies applied. Pure.

The mapping is applied by ``MappingEngine`` (never re-implemented); this module adds what the FK layer
does to the final state, as ``replicator.demo.v2.build_v2(complete=True)`` does for the whole database:
a reference whose parent is absent (as answered by a V1 lookup, see ``replicator.verify.lookup``) is
cleared under ``set_null``, and the row is left out under ``drop`` or ``dead_letter`` (any of those
wins over ``set_null``, as in ``replicator.pipeline.fk.decide``).

Compared columns (``TableSpec.columns``): every V2 column some table mapping of the table feeds, except
a column that only some mappings feed *and* that has a non-NULL default in V2 — a row from a mapping
that does not feed it holds the default, which the mapping cannot predict. Those are listed in
``TableSpec.unverified``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from replicator.mapping.engine import MappingEngine, Op, SourceRow, Upsert
from replicator.mapping.model import Mapping as MappingModel
from replicator.mapping.model import OnOrphan
from replicator.mapping.sql import copied_column
from replicator.pipeline.fk import FkGraph, ParentRef, RowId, canonical_key, parent_refs
from replicator.verify.chunks import Key, Tokens, tokens

__all__ = [
    "ExpectedRow",
    "TableSpec",
    "apply_orphan_policies",
    "map_source_rows",
    "orphan_refs",
    "table_spec",
    "to_tokens",
]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How one V2 table is verified."""

    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]  # compared, sorted
    json_columns: frozenset[str]
    text_key_columns: frozenset[str]  # compared under COLLATE "C" in key ranges
    unverified: tuple[str, ...]
    sources: tuple[tuple[str, str, tuple[str, ...] | None], ...]
    """Per table mapping: (mapping name, V1 table, V1 columns its V2 key copies — None if computed)."""

    @property
    def chunkable(self) -> bool:
        """Every V1 source maps its key by plain copies, so a V2 key range is a V1 key range."""
        return all(cols is not None for _, _, cols in self.sources)


def table_spec(mapping: MappingModel, table: str, v2_columns: Mapping[str, tuple[str, bool]]) -> TableSpec:
    """``v2_columns``: V2 column → (data type, has a non-NULL default), from the catalog."""
    mappings = mapping.mappings_for_target(table)
    fed = [set(m.columns) for m in mappings]
    every = set.intersection(*fed)
    some = set.union(*fed)
    unverified = sorted(c for c in some - every if v2_columns.get(c, ("", False))[1])
    columns = tuple(sorted(c for c in some if c not in unverified))
    key = mappings[0].key
    sources = []
    for m in mappings:
        copied = tuple(copied_column(m, k) for k in key)  # in the V2 table's key order
        sources.append((m.name, m.source, None if None in copied else tuple(c for c in copied if c)))
    return TableSpec(
        table=table,
        key=key,
        columns=columns,
        json_columns=frozenset(c for c in columns if v2_columns.get(c, ("", False))[0] in {"json", "jsonb"}),
        text_key_columns=frozenset(
            k for k in key if v2_columns.get(k, ("", False))[0] in {"text", "character varying", "character"}
        ),
        unverified=tuple(unverified),
        sources=tuple(sources),
    )


@dataclass(frozen=True, slots=True)
class ExpectedRow:
    key: Key
    values: dict[str, object]
    stamp: tuple[str, ...] = ()
    """Versions of the V1 rows it comes from (their ``xmin``): equal stamps, untouched V1 rows."""


def map_source_rows(
    engine: MappingEngine,
    table: str,
    rows: Iterable[tuple[str, Mapping[str, object]]],
    stamps: Iterable[str] | None = None,
) -> dict[str, ExpectedRow]:
    """V1 rows ``(v1 table, row)`` → the rows they put into V2 ``table``, by canonical key.

    Rows of a merge landing on one key are combined column by column, later mappings winning (the
    order the caller gives: mapping file order). ``stamps``: one version per V1 row, collected into
    ``ExpectedRow.stamp``.
    """
    out: dict[str, ExpectedRow] = {}
    versions = iter(stamps) if stamps is not None else None
    for source, row in rows:
        stamp = (f"{source}:{next(versions)}",) if versions is not None else ()
        for write in engine.apply(SourceRow(source, Op.READ, None, row)):
            if not isinstance(write, Upsert) or write.table != table:
                continue
            ck = canonical_key(write.key)
            previous = out.get(ck)
            if previous is None:
                out[ck] = ExpectedRow(write.key, dict(write.values), stamp)
            else:
                values = {**previous.values, **write.values}
                out[ck] = ExpectedRow(write.key, values, previous.stamp + stamp)
    return out


def _upsert(table: str, row: ExpectedRow) -> Upsert:
    return Upsert(table, "", row.key, row.values, frozenset())


def orphan_refs(
    table: str, rows: Mapping[str, ExpectedRow], graph: FkGraph, *, policies: Sequence[OnOrphan] | None = None
) -> dict[RowId, ParentRef]:
    """Every parent the rows reference (optionally only through relationships with ``policies``)."""
    out: dict[RowId, ParentRef] = {}
    for row in rows.values():
        for ref in parent_refs(_upsert(table, row), graph):
            if policies is None or graph.policies[ref.relationship].on_orphan in policies:
                out.setdefault(ref.id, ref)
    return out


def apply_orphan_policies(
    table: str, rows: Mapping[str, ExpectedRow], graph: FkGraph, present: Mapping[RowId, bool]
) -> dict[str, ExpectedRow]:
    """Rows as V2 must hold them: orphaned references cleared (set_null) or the row left out (drop,
    dead_letter). ``present``: parent row id → exists in V1 through the mapping (missing: present)."""
    out: dict[str, ExpectedRow] = {}
    for ck, row in rows.items():
        orphaned = [r for r in parent_refs(_upsert(table, row), graph) if not present.get(r.id, True)]
        policies = {graph.policies[r.relationship].on_orphan for r in orphaned}
        if policies & {OnOrphan.DROP, OnOrphan.DEAD_LETTER}:
            continue
        cleared = {c: None for r in orphaned for c in r.child_columns}
        out[ck] = ExpectedRow(row.key, {**row.values, **cleared}, row.stamp) if cleared else row
    return out


def to_tokens(spec: TableSpec, rows: Mapping[str, Mapping[str, object]]) -> dict[str, Tokens]:
    """Canonical key → the row's compared columns as tokens."""
    return {ck: tokens(values, spec.columns, spec.json_columns) for ck, values in rows.items()}
