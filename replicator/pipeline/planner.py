"""Plan a batch of V2 changes (this module) and resolve it into ordered write steps
(``replicator.pipeline.resolver``). Pure: no I/O, no clock.

The sink drives two calls around its reads of V2::

    plan = plan_batch(items, graph)               # per-row chains, what to read
    parked = <load parked items: every parked item of every row in plan.touched, and of every row that
              has an item waiting for a row in plan.touched>
    request = lookup_request(plan, parked)        # parents, row versions, children of deleted rows
    steps = resolve(plan, Lookups(now_us, existing, versions, parked, referencing))
    if v1_checks(steps): <ask V1>; steps = resolve(plan, Lookups(..., v1_presence=answers))
    <write the steps in order in one V2 transaction, then commit the Kafka offsets>

A periodic sweep calls ``resolve(plan_batch([], graph), …)`` with the parked items whose deadline passed.

Ordering (``resolve``):

* Each row's changes form a **chain**: its parked items (by position) then its batch items (batch
  order). A change whose position is <= an earlier one of the chain, or <= the row's stored version,
  is skipped (``SKIP_STALE``, or ``SKIP_RESURRECT`` for an upsert behind a delete marker); nothing in a
  chain is ever reordered, and a change queued behind a parked one is parked too.
* **Ready** upserts go first, in placement order (below): a row's only change, newer than its version,
  nothing parked for it, every parent already in V2 or ready before it — most of a batch, and all it
  needs is a parent check. Not when the batch deletes a parent. The rest is resolved as follows, with
  the ready rows counted as present.
* Chains are placed upserts first, parents before children (topological rank of the FK graph; one FK
  cycle shares a rank; ties in batch order), then chains ending in a delete, children before parents.
  Upserts go before deletes so a child re-pointed away from a parent is written before that parent's
  delete.
* A change whose parent (or, for a delete, whose referencing child) still has changes coming later
  in the batch is **held** and run right after that row's next step — in-batch park and release.
* Held changes left at the end form a row-level FK cycle (team ↔ lead agent). One is **relaxed**: it is
  applied with its set_null FK columns (nullable by declaration) NULL, and a ``FIXUP`` step re-applies
  the full row right after the parent is written (if the parent ends up parked, the fixup is parked in
  its place). A parked fixup is never relaxed again: its row is already in V2 with those columns NULL,
  so it only waits. If no edge is relaxable, the first held change is decided as if its parent were absent.
* A delete of a row that V2 children still reference waits behind them (see ``fk.decide_delete``).

Every input item — batch items and loaded parked items — gets exactly one step carrying its outcome;
``FIXUP`` steps and the relaxed apply before them share one outcome (on the fixup, or its park).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum

from replicator.mapping import model
from replicator.mapping.engine import Delete, Upsert, Write
from replicator.pipeline.accounting import Outcome
from replicator.pipeline.deadletter import DeadLetterReason
from replicator.pipeline.envelope import Position
from replicator.pipeline.fk import (
    FkGraph,
    ParentRef,
    RowId,
    parent_refs,
    row_id,
)

__all__ = [
    "Action",
    "BatchPlan",
    "ChildLookup",
    "LookupRequest",
    "Lookups",
    "ParkInfo",
    "Parked",
    "ParkedId",
    "ParkedWrites",
    "Positioned",
    "RowVersion",
    "Step",
    "lookup_request",
    "parked_id",
    "parked_writes",
    "plan_batch",
]


# ---------------------------------------------------------------- inputs


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class Positioned:
    """One V2 change of the batch with where it came from."""

    change: Write
    position: Position
    topic: str
    partition: int
    offset: int
    commit_ts_us: int
    row: RowId = field(init=False, compare=False, repr=False)
    """The V2 row the change writes: computed once, planner, resolver and sink all key by it."""

    def __post_init__(self) -> None:
        self.row = row_id(self.change.table, self.change.key)

    @property
    def op(self) -> str:
        return "delete" if isinstance(self.change, Delete) else "upsert"


@dataclass(frozen=True, slots=True)
class Parked:
    """A change stored in the parked table: parked first at ``since_us``, waiting for ``waiting_for``.
    ``fixup`` marks the full-row re-apply of a cycle-relaxed upsert (its position is already stored)."""

    item: Positioned
    since_us: int
    waiting_for: frozenset[RowId]
    fixup: bool = False
    deadline_us: int | None = None
    """As stored (None: not known); an item that stays parked unchanged is not rewritten."""


@dataclass(frozen=True, slots=True)
class RowVersion:
    """The row-version table's entry: last applied position; ``deleted`` is the delete marker."""

    position: Position
    deleted: bool


@dataclass(frozen=True, slots=True)
class ChildLookup:
    """Which V2 rows of ``child_table`` reference ``parent``: ``WHERE child_columns = values``."""

    parent: RowId
    relationship: str
    child_table: str
    child_columns: tuple[str, ...]
    values: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """What the sink reads from V2 before ``resolve``: parent keys per table (which exist?), the
    versions of the batch's rows, and children of rows being deleted."""

    parent_keys: Mapping[str, frozenset[tuple[object, ...]]]
    rows: frozenset[RowId]
    children: tuple[ChildLookup, ...]


@dataclass(frozen=True, slots=True)
class Lookups:
    """The answers: ``existing`` parents of ``parent_keys`` present in V2; ``versions`` of the rows that
    have one; the loaded ``parked`` items; ``referencing`` child rows per parent of ``children``;
    ``v1_presence`` of refs ``v1_checks`` asked about (True: exists in V1)."""

    now_us: int
    existing: Set[RowId] = frozenset()
    versions: Mapping[RowId, RowVersion] = field(default_factory=dict)
    parked: Sequence[Parked] = ()
    referencing: Mapping[RowId, Set[RowId]] = field(default_factory=dict)
    v1_presence: Mapping[RowId, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The batch's per-row chains (indexes into ``items``, per-row order) and stale duplicates."""

    graph: FkGraph
    items: tuple[Positioned, ...]
    chains: Mapping[RowId, tuple[int, ...]]
    stale: frozenset[int]
    touched: frozenset[RowId]
    request: LookupRequest
    refs: Mapping[int, list[ParentRef]] = field(default_factory=dict)
    """Parent references of each live upsert (by index into ``items``): computed once, read again by
    ``resolve``."""


# ---------------------------------------------------------------- outputs


class Action(StrEnum):
    APPLY = "apply"  # write ``change`` behind the version guard; record position (delete: marker)
    FIXUP = "fixup"  # re-write the full row of a relaxed apply; same position, no version check
    PARK = "park"  # store (new) or keep (from_parked) in the parked table
    SKIP_STALE = "skip_stale"
    SKIP_RESURRECT = "skip_resurrect"
    DEAD_LETTER = "dead_letter"  # to the dead-letter topic (ORPHAN_FK); from_parked: also unpark
    DROP = "drop"  # orphan dropped by policy


@dataclass(frozen=True, slots=True)
class ParkInfo:
    since_us: int
    deadline_us: int
    waiting_for: frozenset[RowId]
    missing: tuple[ParentRef, ...] = ()
    check_v1: tuple[ParentRef, ...] = ()
    waiting_in_v1: tuple[ParentRef, ...] = ()
    queued: bool = False  # behind an earlier parked change of the same row
    fixup: bool = False

    def parked(self, item: Positioned) -> Parked:
        return Parked(item, self.since_us, self.waiting_for, self.fixup)


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class Step:
    """One write step. ``outcome`` is the item's accounting outcome (None: the item has no new outcome
    here — a relaxed apply before its fixup, or a parked item that stays parked). A ``from_parked`` item
    with a final outcome is *released*: the sink deletes it from the parked table."""

    action: Action
    item: Positioned
    change: Write
    outcome: Outcome | None
    from_parked: bool = False
    park: ParkInfo | None = None
    reason: DeadLetterReason | None = None
    missing_ref: str | None = None
    relaxed: tuple[str, ...] = ()  # APPLY of a cycle: FK columns written NULL until the FIXUP
    fixup: bool = False
    """The item is a cycle fixup (``Parked.fixup``), stored apart from its row's change at that position."""

    @property
    def released(self) -> bool:
        return self.from_parked and self.outcome is not None and self.outcome is not Outcome.PARKED


# ---------------------------------------------------------------- the parked table

ParkedId = tuple[str, str, int, int, bool]
"""A parked item's key in the parked table: (V2 table, canonical key, commit LSN, LSN, fixup)."""


def parked_id(item: Positioned, *, fixup: bool) -> ParkedId:
    return (item.row[0], item.row[1], item.position.commit_lsn, item.position.lsn, fixup)


@dataclass(frozen=True, slots=True)
class ParkedWrites:
    """What the sink changes in the parked table for a batch's steps: ``remove`` these items, write (insert
    or update) the items of these ``PARK`` steps."""

    remove: tuple[ParkedId, ...]
    upsert: tuple[Step, ...]


def parked_writes(
    steps: Sequence[Step], stored: Mapping[ParkedId, tuple[int | None, frozenset[RowId]]]
) -> ParkedWrites:
    """The parked table's changes for ``steps``, given the loaded items as ``stored`` (id → deadline,
    waiting_for). An item ends parked when one of its steps parks it, even if another of its steps
    left the parked set (a relaxed fixup that is parked again): its stored entry is then kept, and only
    rewritten if its deadline or awaited rows changed. Every other loaded item that got a step is
    removed (only loaded items: the fixup of a row relaxed and fixed up in this batch never was stored)."""
    parks: dict[ParkedId, Step] = {}
    left: dict[ParkedId, None] = {}
    for step in steps:
        ident = parked_id(step.item, fixup=step.fixup)
        if step.action is Action.PARK and step.park is not None:
            parks[ident] = step
        elif step.from_parked:
            left[ident] = None
    upsert = tuple(
        step
        for ident, step in parks.items()
        if step.park is not None and stored.get(ident) != (step.park.deadline_us, step.park.waiting_for)
    )
    return ParkedWrites(tuple(i for i in left if i in stored and i not in parks), upsert)


# ---------------------------------------------------------------- planning


def _children_of(change: Write, graph: FkGraph) -> list[ChildLookup]:
    if not isinstance(change, Delete):
        return []
    parent_key = graph.keys.get(change.table, ())
    out = []
    for rel in graph.referencing(change.table):
        values = tuple(change.key[parent_key.index(c)] for c in rel.ref_columns)
        out.append(ChildLookup(row_id(change.table, change.key), rel.name, rel.table, rel.columns, values))
    return out


def _request(
    items: Sequence[Positioned], graph: FkGraph, refs: dict[int, list[ParentRef]] | None = None
) -> LookupRequest:
    """What to read for ``items``; fills ``refs`` (by position in ``items``) with each upsert's parents."""
    parents: dict[str, set[tuple[object, ...]]] = {}
    children: dict[tuple[RowId, str], ChildLookup] = {}
    for index, item in enumerate(items):
        change = item.change
        if isinstance(change, Upsert):
            item_refs = parent_refs(change, graph)
            if refs is not None:
                refs[index] = item_refs
            for ref in item_refs:
                parents.setdefault(ref.table, set()).add(ref.key)
        else:
            for lookup in _children_of(change, graph):
                children.setdefault((lookup.parent, lookup.relationship), lookup)
    return LookupRequest(
        {t: frozenset(k) for t, k in parents.items()},
        frozenset(item.row for item in items),
        tuple(children.values()),
    )


def plan_batch(items: Sequence[Positioned], graph: FkGraph | model.Mapping) -> BatchPlan:
    """Group the batch per V2 row, in batch order; an item whose position is <= an earlier item's of the
    same row is marked stale (a redelivered duplicate). Lists what the sink must read."""
    fk = graph if isinstance(graph, FkGraph) else FkGraph(graph)
    chains: dict[RowId, list[int]] = {}
    best: dict[RowId, Position] = {}
    stale: set[int] = set()
    for index, item in enumerate(items):
        row = item.row
        if row in best and item.position <= best[row]:
            stale.add(index)
            continue
        best[row] = item.position
        chains.setdefault(row, []).append(index)
    live = [i for i in range(len(items)) if i not in stale]
    refs: dict[int, list[ParentRef]] = {}
    request = _request([items[i] for i in live], fk, refs)
    return BatchPlan(
        graph=fk,
        items=tuple(items),
        chains={r: tuple(c) for r, c in chains.items()},
        stale=frozenset(stale),
        touched=frozenset(chains) | frozenset(items[i].row for i in stale),
        request=request,
        refs={live[i]: r for i, r in refs.items()},
    )


def lookup_request(plan: BatchPlan, parked: Sequence[Parked]) -> LookupRequest:
    """``plan.request`` extended with what the loaded parked items need."""
    if not parked:
        return plan.request
    extra = _request([p.item for p in parked], plan.graph)
    merge = {
        t: plan.request.parent_keys.get(t, frozenset()) | extra.parent_keys.get(t, frozenset())
        for t in set(plan.request.parent_keys) | set(extra.parent_keys)
    }
    rows = plan.request.rows | extra.rows
    seen = {(c.parent, c.relationship) for c in plan.request.children}
    children = plan.request.children + tuple(
        c for c in extra.children if (c.parent, c.relationship) not in seen
    )
    return LookupRequest(merge, rows, children)
