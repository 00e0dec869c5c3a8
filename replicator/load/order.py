"""In which order the initial load reads V1's tables. Pure.

Parents first, so that a child row finds its parent already in V2 and nothing waits: a V1 table comes
after every V1 table whose rows feed a V2 table its own V2 tables reference. V1 tables in one FK cycle
(teams ↔ agents) form one group, read together, so the resolver sees both halves of the cycle side by
side; a self-reference (users.referred_by_user_id) keeps its table a group of one.
"""

from __future__ import annotations

from replicator.mapping.model import Mapping
from replicator.pipeline.fk import strongly_connected

__all__ = ["linked", "load_groups"]


def load_groups(mapping: Mapping) -> list[tuple[str, ...]]:
    """V1 tables of the mapping in groups, parents' groups first, each group's tables sorted."""
    targets_parents = mapping.parents()
    sources_of: dict[str, set[str]] = {}
    for table in mapping.tables:
        sources_of.setdefault(table.target, set()).add(table.source)
    parents: dict[str, set[str]] = {}
    for table in mapping.tables:
        needed = parents.setdefault(table.source, set())
        for parent_target in targets_parents.get(table.target, ()):
            needed.update(sources_of.get(parent_target, ()))
    return [tuple(group) for group in strongly_connected(parents)]


def linked(mapping: Mapping, group: tuple[str, ...]) -> bool:
    """Whether a row of ``group`` (V1 tables) can reference another row of the group: a relationship
    of its V2 tables to themselves, or between them when the group has several V1 tables (a split's
    child references its own V1 row, which is no link)."""
    targets = {t.target for t in mapping.tables if t.source in group}
    inner = [r for r in mapping.relationships if r.table in targets and r.references in targets]
    return any(r.table == r.references for r in inner) or (len(group) > 1 and bool(inner))
