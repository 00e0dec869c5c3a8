"""In which order the initial load reads V1's tables. Pure.

Parents first, so that a child row finds its parent already in V2 and nothing waits: a V1 table comes
after every V1 table whose rows feed a V2 table its own V2 tables reference. V1 tables in one FK cycle
(teams ↔ agents) form one group, read together, so the resolver sees both halves of the cycle side by
side; a self-reference (users.referred_by_user_id) keeps its table a group of one.
"""

from __future__ import annotations

from replicator.mapping.model import Mapping
from replicator.pipeline.fk import strongly_connected

__all__ = ["ALONE_BYTES", "alone", "linked", "load_groups"]

ALONE_BYTES = 1 << 20
"""A group this small (its V1 tables' size on disk) is not worth sharing between loading processes."""


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


def alone(
    mapping: Mapping, groups: list[tuple[str, ...]], sizes: dict[str, int], limit: int = ALONE_BYTES
) -> int:
    """How many leading groups the first loading process reads alone: the leading run of groups that are
    linked (read whole by one process anyway) or smaller than ``limit`` bytes (``sizes``: bytes per V1
    table; an unknown table counts as large). The other processes start at the first group after them,
    so their start-up overlaps that work instead of delaying the first group."""
    count = 0
    for group in groups:
        small = sum(sizes.get(name, limit) for name in group) < limit
        if not (small or linked(mapping, group)):
            break
        count += 1
    return count
