"""``orphans scan``: run the orphan queries on V1 and sum them per relationship."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from replicator.mapping.model import Mapping
from replicator.orphans.queries import OrphanQuery, Unscannable, orphan_queries


@dataclass(frozen=True, slots=True)
class RelationshipOrphans:
    relationship: str
    child: str
    columns: tuple[str, ...]
    parents: tuple[str, ...]
    policy: str
    orphans: int
    sample_keys: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "relationship": self.relationship,
            "child": self.child,
            "columns": list(self.columns),
            "parents": list(self.parents),
            "policy": self.policy,
            "orphans": self.orphans,
            "sample_keys": self.sample_keys,
        }


@dataclass(frozen=True, slots=True)
class OrphanScan:
    relationships: list[RelationshipOrphans]
    unscannable: list[Unscannable]

    @property
    def total(self) -> int:
        return sum(r.orphans for r in self.relationships)

    @property
    def with_orphans(self) -> int:
        return sum(1 for r in self.relationships if r.orphans)

    @property
    def clean(self) -> int:
        return len(self.relationships) - self.with_orphans


def scan(conn: psycopg.Connection[Any], mapping: Mapping) -> OrphanScan:
    """One row per relationship (child mappings of a merge summed), in mapping order."""
    found: dict[str, RelationshipOrphans] = {}
    unscannable: list[Unscannable] = []
    for query in orphan_queries(mapping):
        if isinstance(query, Unscannable):
            unscannable.append(query)
            continue
        count, sample = _run(conn, query)
        previous = found.get(query.relationship)
        rel = next(r for r in mapping.relationships if r.name == query.relationship)
        found[query.relationship] = RelationshipOrphans(
            relationship=query.relationship,
            child=query.child_table if previous is None else f"{previous.child}+{query.child_table}",
            columns=query.child_columns,
            parents=query.parent_tables,
            policy=mapping.on_orphan_for(rel).value,
            orphans=count + (previous.orphans if previous else 0),
            sample_keys=(previous.sample_keys if previous else []) + list(sample or []),
        )
    return OrphanScan(relationships=list(found.values()), unscannable=unscannable)


def _run(conn: psycopg.Connection[Any], query: OrphanQuery) -> tuple[int, list[Any]]:
    row = conn.execute(query.statement, query.params).fetchone()
    assert row is not None
    return int(row[0]), list(row[1] or [])
