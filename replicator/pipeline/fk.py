"""Foreign-key resolution for one V2 change: apply now, park until the parent arrives, or orphan. Pure.

V2 keeps its FK constraints on, so a child row may only be written once every parent it references is
present. Vocabulary:

* a ``RowId`` is ``(v2 table, canonical_key(key))`` — how the sink names a row in its row-version and
  parked tables and how "is this parent present?" sets are keyed;
* a ``ParentRef`` is one reference of an upsert to a parent row (one per relationship whose columns are
  all non-null in the upsert);
* ``decide`` turns the refs plus what is known about the parents into ``Apply``, ``Park`` or ``Orphan``.

Orphan policy applies to a reference only when its park timeout has expired **and** a V1 lookup confirmed
the parent absent. The caller asks V1 only about the refs ``Park.check_v1`` names (expired, not yet
looked up) and calls ``decide`` again with the answers in ``v1_presence``; a parent that exists in V1 but
has not reached V2 keeps the child parked, reported in ``Park.waiting_in_v1``.

Parent deletes (``decide_delete``): a delete of a row that V2 children still reference waits for those
children (their delete or re-pointing is in flight on another topic), parked like a child waits for its
parent. When the longest park timeout of the relationships pointing at the table has expired and
children still reference it, the delete is dead-lettered as ``ORPHAN_FK`` naming a referencing child:
V1 (which does not enforce these FKs) left children behind, and an operator fixes them (``orphans fix``)
and replays. It is never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from decimal import Decimal

import orjson

from replicator.errors import ConfigError
from replicator.mapping import model
from replicator.mapping.engine import Delete, Upsert, Write
from replicator.pipeline.deadletter import DeadLetterReason
from replicator.pipeline.infinity import infinite

__all__ = [
    "Apply",
    "DeadLetter",
    "Decision",
    "Drop",
    "FkGraph",
    "Orphan",
    "OrphanAction",
    "ParentRef",
    "Park",
    "RelPolicy",
    "RowId",
    "SetNull",
    "canonical_key",
    "decide",
    "decide_delete",
    "parent_refs",
    "row_id",
    "strongly_connected",
]

RowId = tuple[str, str]
"""``(v2 table, canonical_key(key values in the table's key order))``."""


# ---------------------------------------------------------------- canonical keys


def _tag(value: object) -> list[object]:  # noqa: PLR0911, PLR0912 - one branch per type reads best
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, Decimal):
        # PostgreSQL numeric equality ignores trailing zeros (1.5 = 1.50): so does the key.
        return ["n", str(value.normalize()) if value.is_finite() else str(value)]
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, uuid.UUID):
        # Debezium delivers uuid as its canonical text and psycopg reads it back as UUID: both must name
        # the same V2 row, so a UUID keys as its (lower-case, hyphenated) text.
        return ["s", str(value)]
    if isinstance(value, bytes | bytearray | memoryview):
        return ["x", bytes(value).hex()]
    if (text := infinite(value)) is not None:  # not the real 9999-12-31 it is stored at
        return ["inf", text]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return ["tz", value.astimezone(dt.UTC).isoformat()]
        return ["ts", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, dt.time):
        return ["t", value.isoformat()]
    if isinstance(value, dt.timedelta):
        return ["iv", str(value // dt.timedelta(microseconds=1))]
    if isinstance(value, list | tuple):
        return ["a", [_tag(v) for v in value]]
    raise TypeError(f"cannot build a canonical key from a value of type {type(value).__name__}")


def canonical_key(values: Sequence[object]) -> str:
    """Stable text for a key tuple: JSON of ``[type tag, text]`` pairs.

    Deterministic across processes, and injective except where PostgreSQL itself sees equal keys:
    ``Decimal('1.5')``/``Decimal('1.50')``, one instant in two time zones, a UUID and its text.
    Raises ``TypeError`` for a type no key column can hold.
    """
    # Integer keys (the common case) spelled as orjson would spell them: nothing to escape.
    if len(values) == 1:
        if type(values[0]) is int:
            return f'[["i","{values[0]}"]]'
    elif all(type(v) is int for v in values):
        return "[" + ",".join([f'["i","{v}"]' for v in values]) + "]"
    return orjson.dumps([_tag(v) for v in values]).decode()


def row_id(table: str, key: Sequence[object]) -> RowId:
    return (table, canonical_key(key))


# ---------------------------------------------------------------- the FK graph


@dataclass(frozen=True, slots=True)
class RelPolicy:
    """What a relationship does with an orphan, and how long a child waits for its parent first."""

    on_orphan: model.OnOrphan
    park_timeout_us: int


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class ParentRef:
    """One reference of a child row to its parent row through ``relationship``.

    ``key`` holds the parent's key values in the parent table's key order; ``child_columns`` are the
    child's FK columns (what ``SetNull`` clears).
    """

    relationship: str
    table: str
    key: tuple[object, ...]
    child_columns: tuple[str, ...]
    id: RowId = field(init=False, compare=False, repr=False)
    """The parent's ``RowId``: computed once, the resolver asks for it many times."""

    def __post_init__(self) -> None:
        self.id = row_id(self.table, self.key)

    def describe(self) -> str:
        """``relationship → table[canonical key]``: names the parent, for headers and logs (key only)."""
        return f"{self.relationship} → {self.table}{canonical_key(self.key)}"


@dataclass(frozen=True, slots=True)
class _RefPlan:
    """How ``parent_refs`` reads one relationship off a child row: ``single`` names the one FK column
    (the common case), else ``columns`` are read and reordered by ``order`` into the parent's key."""

    name: str
    references: str
    columns: tuple[str, ...]
    order: tuple[int, ...]
    single: str | None


class FkGraph:
    """The relationships of a mapping, indexed for the FK layer and the planner. Built once at start-up.

    Raises ``ConfigError`` if a relationship references columns that are not exactly the parent table's
    key: a parent is found (and a parent delete blocked) by key.
    """

    def __init__(self, mapping: model.Mapping) -> None:
        self.mapping = mapping
        self.keys: dict[str, tuple[str, ...]] = {}
        for table in mapping.tables:
            self.keys.setdefault(table.target, table.key)
        self.policies: dict[str, RelPolicy] = {}
        self._by_child: dict[str, list[tuple[model.Relationship, tuple[int, ...]]]] = {}
        self.ref_plans: dict[str, tuple[_RefPlan, ...]] = {}
        self.parent_tables: dict[str, frozenset[str]] = {}  # the tables each table's rows reference
        for index, rel in enumerate(mapping.relationships):
            parent_key = self.keys.get(rel.references, ())
            if sorted(rel.ref_columns) != sorted(parent_key):
                raise ConfigError(
                    f"relationships[{index}].ref_columns",
                    source="mapping",
                    problem=f"{list(rel.ref_columns)} is not the key of {rel.references!r}",
                    valid=f"the key columns of {rel.references!r}: {list(parent_key)}",
                )
            # child column feeding each parent key column, in the parent's key order
            order = tuple(rel.ref_columns.index(k) for k in parent_key)
            self._by_child.setdefault(rel.table, []).append((rel, order))
            single = rel.columns[0] if len(rel.columns) == 1 else None
            plan = _RefPlan(rel.name, rel.references, rel.columns, order, single)
            self.ref_plans[rel.table] = (*self.ref_plans.get(rel.table, ()), plan)
            self.parent_tables[rel.table] = self.parent_tables.get(rel.table, frozenset()) | {rel.references}
            self.policies[rel.name] = RelPolicy(
                on_orphan=mapping.on_orphan_for(rel),
                park_timeout_us=int(mapping.park_timeout_for(rel) / dt.timedelta(microseconds=1)),
            )
        self.rank = _ranks(mapping)
        self._delete_timeout_us: dict[str, int] = {}
        for rel in mapping.relationships:
            timeout = self.policies[rel.name].park_timeout_us
            self._delete_timeout_us[rel.references] = max(
                timeout, self._delete_timeout_us.get(rel.references, 0)
            )

    def relationships_for(self, child_table: str) -> list[tuple[model.Relationship, tuple[int, ...]]]:
        return self._by_child.get(child_table, [])

    def is_parent(self, table: str) -> bool:
        return table in self._delete_timeout_us

    def referencing(self, parent_table: str) -> tuple[model.Relationship, ...]:
        return self.mapping.relationships_to(parent_table)

    def delete_timeout_us(self, parent_table: str) -> int:
        """How long a parent delete waits for its children: the longest timeout of relationships to it."""
        return self._delete_timeout_us.get(parent_table, 0)


def _ranks(mapping: model.Mapping) -> dict[str, int]:
    """Topological rank of each V2 table, parents first; tables of one FK cycle share a rank (Tarjan)."""
    components = strongly_connected(mapping.parents())
    return {table: rank for rank, component in enumerate(components) for table in component}


def strongly_connected(parents: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of a child → parents graph, parents first: a component
    comes after every component it references. Nodes only named as parents are included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []  # Tarjan emits components parents-first for child → parent edges

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for parent in sorted(parents.get(node, ())):
            if parent not in index:
                visit(parent)
                low[node] = min(low[node], low[parent])
            elif parent in on_stack:
                low[node] = min(low[node], index[parent])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(parents):
        if node not in index:
            visit(node)
    return components


def parent_refs(change: Upsert, graph: FkGraph | model.Mapping) -> list[ParentRef]:
    """The parent rows an upsert references: one per relationship of its table whose FK columns are all
    present and non-null in the upsert. A row referencing itself is satisfied and not listed; FK columns
    left out of the upsert (unchanged TOAST) are not checked again."""
    fk = graph if isinstance(graph, FkGraph) else FkGraph(graph)
    refs: list[ParentRef] = []
    row = change.values
    for rel in fk.ref_plans.get(change.table, ()):
        if rel.single is not None:
            value = row.get(rel.single)  # absent (unchanged TOAST) reads as None: skipped too
            if value is None:
                continue
            key: tuple[object, ...] = (value,)
        else:
            values = [row.get(c) for c in rel.columns]
            if None in values:
                continue
            key = tuple([values[i] for i in rel.order])
        ref = ParentRef(rel.name, rel.references, key, rel.columns)
        if rel.references == change.table and ref.id[1] == canonical_key(change.key):
            continue  # the row references itself
        refs.append(ref)
    return refs


# ---------------------------------------------------------------- decisions


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class Apply:
    """Write the change now (after ``SetNull`` it is the modified upsert)."""

    change: Write


@dataclass(frozen=True, slots=True)
class Park:
    """Wait for ``missing`` parents (or, for a delete, for ``waiting_for`` children to go).

    ``deadline_us`` is the earliest time the decision should be revisited even if nothing arrives;
    ``check_v1`` are refs whose timeout expired and that need a V1 lookup; ``waiting_in_v1`` are refs
    whose timeout expired but whose parent exists in V1 (it is late, not orphaned).
    """

    missing: tuple[ParentRef, ...]
    waiting_for: frozenset[RowId]
    deadline_us: int
    check_v1: tuple[ParentRef, ...] = ()
    waiting_in_v1: tuple[ParentRef, ...] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: DeadLetterReason
    missing_ref: str


@dataclass(frozen=True, slots=True)
class SetNull:
    """Apply ``change``: the upsert with the orphaned FK ``columns`` set to NULL."""

    columns: tuple[str, ...]
    change: Upsert


@dataclass(frozen=True, slots=True)
class Drop:
    missing_ref: str


OrphanAction = DeadLetter | SetNull | Drop


@dataclass(frozen=True, slots=True)
class Orphan:
    action: OrphanAction
    refs: tuple[ParentRef, ...]


Decision = Apply | Park | Orphan

# Precedence when several references are orphaned at once: the safest outcome wins.
_SEVERITY = {model.OnOrphan.DEAD_LETTER: 0, model.OnOrphan.DROP: 1, model.OnOrphan.SET_NULL: 2}


def decide(
    change: Upsert,
    refs: Iterable[ParentRef],
    *,
    existing_parents: Set[RowId],
    applied_in_batch: Set[RowId] = frozenset(),
    now_us: int,
    parked_since_us: int | None,
    policies: Mapping[str, RelPolicy],
    v1_presence: Mapping[RowId, bool] | None = None,
) -> Decision:
    """Apply, park or orphan an upsert.

    ``existing_parents``: parents present in V2 before the batch; ``applied_in_batch``: parents written
    earlier in this batch; ``parked_since_us``: when the change was first parked (None: not yet);
    ``v1_presence``: parent → exists in V1, for refs a V1 lookup answered. A ref is orphaned only when
    its timeout (from ``parked_since_us``) has expired and ``v1_presence`` says False. Several orphaned
    refs: any dead_letter wins, then drop; set_null applies only once every missing ref is orphaned.
    """
    presence = v1_presence or {}
    missing = tuple(r for r in refs if r.id not in existing_parents and r.id not in applied_in_batch)
    if not missing:
        return Apply(change)
    since = now_us if parked_since_us is None else parked_since_us
    orphaned: list[ParentRef] = []
    check_v1: list[ParentRef] = []
    late: list[ParentRef] = []
    for ref in missing:
        if now_us < since + policies[ref.relationship].park_timeout_us:
            continue
        known = presence.get(ref.id)
        if known is None:
            check_v1.append(ref)
        elif known:
            late.append(ref)
        else:
            orphaned.append(ref)
    if orphaned:
        worst = min(orphaned, key=lambda r: _SEVERITY[policies[r.relationship].on_orphan])
        policy = policies[worst.relationship].on_orphan
        if policy is model.OnOrphan.DEAD_LETTER:
            return Orphan(DeadLetter(DeadLetterReason.ORPHAN_FK, worst.describe()), tuple(orphaned))
        if policy is model.OnOrphan.DROP:
            return Orphan(Drop(worst.describe()), tuple(orphaned))
        if len(orphaned) == len(missing):
            columns = tuple(c for r in orphaned for c in r.child_columns)
            nulled = replace(change, values={**change.values, **dict.fromkeys(columns)})
            return Orphan(SetNull(columns, nulled), tuple(orphaned))
    # A timed-out ref whose parent V1 still holds is checked again one timeout from now: a deadline left
    # in the past would put the item first in every sweep, ahead of everything else that is due.
    deadline = min(
        (now_us if r in late else since) + policies[r.relationship].park_timeout_us for r in missing
    )
    return Park(
        missing=missing,
        waiting_for=frozenset(r.id for r in missing),
        deadline_us=deadline,
        check_v1=tuple(check_v1),
        waiting_in_v1=tuple(late),
    )


def decide_delete(
    change: Delete,
    children: Set[RowId],
    *,
    now_us: int,
    parked_since_us: int | None,
    timeout_us: int,
) -> Decision:
    """Apply a delete, or wait while V2 ``children`` still reference the row (see the module docstring):
    dead-lettered as ORPHAN_FK once ``timeout_us`` has passed since it was first parked."""
    if not children:
        return Apply(change)
    since = now_us if parked_since_us is None else parked_since_us
    if now_us >= since + timeout_us and parked_since_us is not None:
        child_table, child_key = min(children)
        return Orphan(DeadLetter(DeadLetterReason.ORPHAN_FK, f"referenced by {child_table}{child_key}"), ())
    return Park(missing=(), waiting_for=frozenset(children), deadline_us=since + timeout_us)
