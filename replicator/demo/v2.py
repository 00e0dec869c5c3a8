"""V2 as the demo needs it, from V1 rows run through the mapping engine. Pure.

Two states:

* ``build_v2(data, mapping)`` — the partially migrated V2 the earlier batch migration left: every V1 row
  except those in ``DemoData.missing``. Orphaned references of set_null relationships are written as NULL
  (as the batch job did); an orphan under any other policy reaching V2 would break a V2 foreign key, so it
  is reported as a scenario bug (``OrphanInV2Error``) rather than written.
* ``build_v2(data, mapping, complete=True)`` — what V2 must hold once the replicator has closed the gaps:
  every V1 row, each orphan handled by its relationship's policy (set_null → NULL; drop and dead_letter →
  the row is not in V2). The reference state for calculations and end-to-end checks.

The mapping itself is applied by ``MappingEngine`` (never re-implemented here); this module only applies
the orphan policies, which the engine leaves to the FK layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from replicator.demo.generate import DemoData, Row, Table
from replicator.mapping.engine import MappingEngine, Op, SourceRow, Upsert
from replicator.mapping.model import Mapping, OnOrphan

__all__ = ["V2Data", "build_v2"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class V2Data:
    """V2 rows grouped per (table, column set) — a merge feeds one table with several column sets."""

    batches: list[Table]
    nulled: dict[str, int] = field(default_factory=dict)  # relationship name → references set to NULL
    removed: dict[str, int] = field(default_factory=dict)  # relationship name → rows left out (complete)

    def rows_per_table(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for batch in self.batches:
            out[batch.name] = out.get(batch.name, 0) + len(batch.rows)
        return out

    @property
    def total_rows(self) -> int:
        return sum(len(b.rows) for b in self.batches)


class OrphanInV2Error(ValueError):
    """The scenario put an orphan that is not set_null into a row V2 holds (a generator bug)."""

    def __init__(self, relationship: str, policy: str, count: int) -> None:
        self.relationship = relationship
        self.policy = policy
        self.count = count
        super().__init__(
            f"relationship {relationship!r} ({policy}): {count} orphaned reference(s) in rows present in V2"
        )


def build_v2(
    data: DemoData, mapping: Mapping, *, complete: bool = False, progress: Progress | None = None
) -> V2Data:
    """Map the V1 rows through ``mapping`` and apply orphan policies; rows grouped for COPY.

    ``complete=False``: the partially migrated V2 (``data.missing`` left out). ``complete=True``: V2 after
    a correct, complete migration.
    """
    engine = MappingEngine(mapping)
    by_table: dict[str, list[dict[str, object]]] = {t: [] for t in mapping.target_tables()}
    for name, table in data.tables.items():
        skip = frozenset() if complete else data.missing.get(name, frozenset())
        cols = table.columns
        total = len(table.rows)
        for done, row in enumerate(table.rows, 1):
            if row[0] in skip:
                continue
            for write in engine.apply(SourceRow(name, Op.READ, None, dict(zip(cols, row, strict=True)))):
                if isinstance(write, Upsert):
                    by_table[write.table].append(write.values)
            if progress is not None and done % 20_000 == 0:
                progress(name, done, total)
        if progress is not None:
            progress(name, total, total)
    nulled, removed = _apply_orphan_policies(mapping, by_table, complete=complete)
    return V2Data(batches=_group(by_table), nulled=nulled, removed=removed)


def _apply_orphan_policies(
    mapping: Mapping, by_table: dict[str, list[dict[str, object]]], *, complete: bool
) -> tuple[dict[str, int], dict[str, int]]:
    """NULL set_null orphans; remove (complete) or reject (partial) the others. Repeats until stable, so
    a removed row that was itself a parent is accounted for too."""
    nulled = {rel.name: 0 for rel in mapping.relationships}
    removed = {rel.name: 0 for rel in mapping.relationships}
    changed = True
    while changed:
        changed = False
        parent_keys: dict[tuple[str, tuple[str, ...]], set[tuple[object, ...]]] = {}
        for rel in mapping.relationships:
            ref = (rel.references, rel.ref_columns)
            if ref not in parent_keys:
                parent_keys[ref] = {tuple(v[c] for c in rel.ref_columns) for v in by_table[rel.references]}
            keys = parent_keys[ref]
            policy = mapping.on_orphan_for(rel)
            kept: list[dict[str, object]] = []
            orphans = 0
            for values in by_table[rel.table]:
                ref_values = tuple(values.get(c) for c in rel.columns)
                if None in ref_values or ref_values in keys:
                    kept.append(values)
                    continue
                orphans += 1
                if policy is OnOrphan.SET_NULL:
                    for c in rel.columns:
                        values[c] = None
                    kept.append(values)
            if not orphans:
                continue
            if policy is OnOrphan.SET_NULL:
                nulled[rel.name] += orphans
            elif complete:
                removed[rel.name] += orphans
                by_table[rel.table] = kept
                parent_keys.clear()
                changed = True
            else:
                raise OrphanInV2Error(rel.name, policy.value, orphans)
    return nulled, removed


def _group(by_table: dict[str, list[dict[str, object]]]) -> list[Table]:
    batches: list[Table] = []
    for name, rows in by_table.items():
        groups: dict[tuple[str, ...], list[Row]] = {}
        for values in rows:
            groups.setdefault(tuple(values), []).append(tuple(values.values()))
        batches.extend(Table(name, columns, group) for columns, group in groups.items())
    return batches
