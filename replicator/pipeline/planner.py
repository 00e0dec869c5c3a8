"""Plan a batch of V2 changes and resolve it into ordered write steps. Pure: no I/O, no clock.

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
* Chains are placed upserts first, parents before children (topological rank of the FK graph; one FK
  cycle shares a rank; ties in batch order), then chains ending in a delete, children before parents.
  Upserts go before deletes so a child re-pointed away from a parent is written before that parent's
  delete.
* A change whose parent (or, for a delete, whose referencing child) still has changes coming later
  in the batch is **held** and run right after that row's next step — in-batch park and release.
* Held changes left at the end form a row-level FK cycle (team ↔ lead agent). One is **relaxed**: it is
  applied with its set_null FK columns (nullable by declaration) NULL, and a ``FIXUP`` step re-applies
  the full row right after the parent is written (if the parent ends up parked, the fixup is parked in
  its place). If no edge is relaxable, the first held change is decided as if its parent were absent.
* A delete of a row that V2 children still reference waits behind them (see ``fk.decide_delete``).

Every input item — batch items and loaded parked items — gets exactly one step carrying its outcome;
``FIXUP`` steps and the relaxed apply before them share one outcome (on the fixup, or its park).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from enum import StrEnum

from replicator.mapping import model
from replicator.mapping.engine import Delete, Upsert, Write
from replicator.pipeline.accounting import Ledger, Outcome
from replicator.pipeline.deadletter import DeadLetterReason
from replicator.pipeline.envelope import Position
from replicator.pipeline.fk import (
    Apply,
    DeadLetter,
    Decision,
    Drop,
    FkGraph,
    ParentRef,
    Park,
    RowId,
    SetNull,
    decide,
    decide_delete,
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
    "Positioned",
    "RowVersion",
    "Step",
    "lookup_request",
    "plan_batch",
    "resolve",
    "tally",
    "v1_checks",
]


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Positioned:
    """One V2 change of the batch with where it came from."""

    change: Write
    position: Position
    topic: str
    partition: int
    offset: int
    commit_ts_us: int

    @property
    def row(self) -> RowId:
        return row_id(self.change.table, self.change.key)

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
    """What the sink reads from V2 before ``resolve``: parent keys per table (which exist?), row
    versions per table, and children of rows being deleted."""

    parent_keys: Mapping[str, frozenset[tuple[object, ...]]]
    row_keys: Mapping[str, frozenset[tuple[object, ...]]]
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


@dataclass(frozen=True, slots=True)
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

    @property
    def released(self) -> bool:
        return self.from_parked and self.outcome is not None and self.outcome is not Outcome.PARKED


# ---------------------------------------------------------------- planning


def _parents_of(change: Write, graph: FkGraph) -> list[ParentRef]:
    return parent_refs(change, graph) if isinstance(change, Upsert) else []


def _children_of(change: Write, graph: FkGraph) -> list[ChildLookup]:
    if not isinstance(change, Delete):
        return []
    parent_key = graph.keys.get(change.table, ())
    out = []
    for rel in graph.referencing(change.table):
        values = tuple(change.key[parent_key.index(c)] for c in rel.ref_columns)
        out.append(ChildLookup(row_id(change.table, change.key), rel.name, rel.table, rel.columns, values))
    return out


def _request(items: Sequence[Positioned], graph: FkGraph) -> LookupRequest:
    parents: dict[str, set[tuple[object, ...]]] = {}
    rows: dict[str, set[tuple[object, ...]]] = {}
    children: dict[tuple[RowId, str], ChildLookup] = {}
    for item in items:
        rows.setdefault(item.change.table, set()).add(item.change.key)
        for ref in _parents_of(item.change, graph):
            parents.setdefault(ref.table, set()).add(ref.key)
        for lookup in _children_of(item.change, graph):
            children.setdefault((lookup.parent, lookup.relationship), lookup)
    return LookupRequest(
        {t: frozenset(k) for t, k in parents.items()},
        {t: frozenset(k) for t, k in rows.items()},
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
    live = [items[i] for i in range(len(items)) if i not in stale]
    return BatchPlan(
        graph=fk,
        items=tuple(items),
        chains={r: tuple(c) for r, c in chains.items()},
        stale=frozenset(stale),
        touched=frozenset(chains) | frozenset(items[i].row for i in stale),
        request=_request(live, fk),
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
    rows = {
        t: plan.request.row_keys.get(t, frozenset()) | extra.row_keys.get(t, frozenset())
        for t in set(plan.request.row_keys) | set(extra.row_keys)
    }
    seen = {(c.parent, c.relationship) for c in plan.request.children}
    children = plan.request.children + tuple(
        c for c in extra.children if (c.parent, c.relationship) not in seen
    )
    return LookupRequest(merge, rows, children)


# ---------------------------------------------------------------- resolving


@dataclass(slots=True)
class _Entry:
    item: Positioned
    from_parked: bool
    since_us: int | None
    fixup: bool = False


@dataclass(slots=True)
class _Chain:
    row: RowId
    queue: deque[_Entry]
    placement: tuple[int, int, int]
    state: str = "pending"  # pending | running | blocked | done
    blocked_on: frozenset[RowId] = frozenset()


@dataclass(slots=True)
class _Fixup:
    entry: _Entry
    change: Upsert
    waiting: set[RowId]
    deadline_us: int


class _Resolver:
    def __init__(self, plan: BatchPlan, lookups: Lookups) -> None:
        self.graph = plan.graph
        self.lookups = lookups
        self.now = lookups.now_us
        self.steps: list[Step] = []
        self.present: dict[RowId, bool] = {}
        self.versions = dict(lookups.versions)
        self.referencing = {p: set(c) for p, c in lookups.referencing.items()}
        self.remaining: Counter[RowId] = Counter()
        self.remaining_upserts: Counter[RowId] = Counter()
        self.waiters: dict[RowId, set[RowId]] = {}
        self.fixups: dict[RowId, _Fixup] = {}
        self.stack: list[_Chain] = []
        for index in sorted(plan.stale):
            item = plan.items[index]
            self._emit(Action.SKIP_STALE, _Entry(item, False, None), item.change, Outcome.SKIPPED_STALE)
        entries: dict[RowId, list[_Entry]] = {}
        first: dict[RowId, int] = {}
        parked = sorted(lookups.parked, key=lambda p: (p.item.row, p.item.position))
        for seq, p in enumerate(parked, start=-len(parked)):
            entries.setdefault(p.item.row, []).append(_Entry(p.item, True, p.since_us, p.fixup))
            first.setdefault(p.item.row, seq)
        for row, indexes in plan.chains.items():
            entries.setdefault(row, []).extend(_Entry(plan.items[i], False, None) for i in indexes)
            first.setdefault(row, indexes[0])
        self.chains: dict[RowId, _Chain] = {}
        for row, all_entries in entries.items():
            chain_entries = self._drop_out_of_order(all_entries)
            if not chain_entries:
                continue
            last = chain_entries[-1].item.change
            rank = self.graph.rank.get(last.table, 0)
            placement = (1, -rank, first[row]) if isinstance(last, Delete) else (0, rank, first[row])
            self.chains[row] = _Chain(row, deque(chain_entries), placement)
            self.remaining[row] = len(chain_entries)
            self.remaining_upserts[row] = sum(isinstance(e.item.change, Upsert) for e in chain_entries)
        waiting_for = {p.item.row: p.waiting_for for p in lookups.parked}
        for row, chain in self.chains.items():
            # a parked row whose awaited rows change in this batch is released right after them
            awaited = {w for w in waiting_for.get(row, ()) if w in self.chains and w != row}
            if chain.queue[0].from_parked and awaited:
                self._block(chain, awaited)

    def _drop_out_of_order(self, entries: list[_Entry]) -> list[_Entry]:
        """A change at or below an earlier change of the chain is a duplicate (a redelivered item that is
        also parked): skipped as stale, so per-row positions strictly increase."""
        kept: list[_Entry] = []
        for entry in entries:
            if kept and entry.item.position <= kept[-1].item.position:
                self._emit(Action.SKIP_STALE, entry, entry.item.change, Outcome.SKIPPED_STALE)
            else:
                kept.append(entry)
        return kept

    # -- state

    def _present(self, rid: RowId) -> bool:
        return self.present.get(rid, rid in self.lookups.existing)

    def _emit(
        self,
        action: Action,
        entry: _Entry,
        change: Write,
        outcome: Outcome | None,
        *,
        park: ParkInfo | None = None,
        reason: DeadLetterReason | None = None,
        missing_ref: str | None = None,
        relaxed: tuple[str, ...] = (),
    ) -> None:
        if entry.from_parked and outcome is Outcome.PARKED:
            outcome = None  # stays parked: no new outcome
        if entry.fixup and action is Action.APPLY:
            action = Action.FIXUP  # its position is already stored: written without the version guard
        self.steps.append(
            Step(action, entry.item, change, outcome, entry.from_parked, park, reason, missing_ref, relaxed)
        )

    def _effects(self, row: RowId, change: Write, position: Position) -> None:
        if isinstance(change, Delete):
            self.present[row] = False
            self.versions[row] = RowVersion(position, deleted=True)
            for kids in self.referencing.values():
                kids.discard(row)
        else:
            self.present[row] = True
            self.versions[row] = RowVersion(position, deleted=False)
            determined = {
                rel.references
                for rel, _ in self.graph.relationships_for(change.table)
                if all(c in change.values for c in rel.columns)
            }
            now_refs = {r.id for r in parent_refs(change, self.graph)}
            for parent, kids in self.referencing.items():
                if parent in now_refs:
                    kids.add(row)
                elif parent[0] in determined:
                    kids.discard(row)
            self._run_fixups(row)

    def _run_fixups(self, arrived: RowId) -> None:
        for row, fix in list(self.fixups.items()):
            fix.waiting.discard(arrived)
            if not fix.waiting:
                del self.fixups[row]
                self._emit(Action.FIXUP, fix.entry, fix.change, Outcome.APPLIED)
                self._effects(row, fix.change, fix.entry.item.position)

    def _pop(self, chain: _Chain) -> None:
        entry = chain.queue.popleft()
        self.remaining[chain.row] -= 1
        if isinstance(entry.item.change, Upsert):
            self.remaining_upserts[chain.row] -= 1
        self._wake(chain.row)

    def _wake(self, row: RowId) -> None:
        woken = sorted(self.waiters.pop(row, set()), key=lambda r: self.chains[r].placement, reverse=True)
        for waiting in woken:  # pushed latest-placed first, so the earliest runs first
            chain = self.chains[waiting]
            if chain.state == "blocked":
                chain.state = "running"
                for other in chain.blocked_on:
                    self.waiters.get(other, set()).discard(waiting)
                self.stack.append(chain)

    def _block(self, chain: _Chain, on: set[RowId]) -> None:
        chain.state = "blocked"
        chain.blocked_on = frozenset(on)
        for rid in on:
            self.waiters.setdefault(rid, set()).add(chain.row)

    # -- one chain

    def _stale(self, row: RowId, entry: _Entry) -> bool:
        version = self.versions.get(row)
        if version is None:
            return False
        pos = entry.item.position
        if pos > version.position or (entry.fixup and pos == version.position and not version.deleted):
            return False
        resurrect = version.deleted and isinstance(entry.item.change, Upsert)
        action = Action.SKIP_RESURRECT if resurrect else Action.SKIP_STALE
        outcome = Outcome.SKIPPED_RESURRECT if resurrect else Outcome.SKIPPED_STALE
        self._emit(action, entry, entry.item.change, outcome)
        return True

    def _held_parents(self, row: RowId, refs: list[ParentRef]) -> tuple[list[ParentRef], set[RowId]]:
        missing = [r for r in refs if not self._present(r.id)]
        return missing, {r.id for r in missing if r.id != row and self.remaining_upserts[r.id] > 0}

    def _step(self, chain: _Chain, *, force: bool = False) -> bool:
        """Run the head of ``chain``; False when the chain blocked."""
        entry = chain.queue[0]
        change = entry.item.change
        if self._stale(chain.row, entry):
            self._pop(chain)
            return True
        fix = self.fixups.get(chain.row)
        if fix is not None:  # later changes of a relaxed row wait for its fixup
            if not force:
                self._block(chain, set(fix.waiting))
                return False
            self._park_rest(chain, Park((), frozenset(fix.waiting), fix.deadline_us), queued=True)
            return True
        decision: Decision
        if isinstance(change, Upsert):
            refs = parent_refs(change, self.graph)
            _, held = self._held_parents(chain.row, refs)
            if held and not force:
                self._block(chain, held)
                return False
            decision = decide(
                change,
                refs,
                existing_parents={r.id for r in refs if self._present(r.id)},
                now_us=self.now,
                parked_since_us=entry.since_us,
                policies=self.graph.policies,
                v1_presence=self.lookups.v1_presence,
            )
        else:
            children = self.referencing.get(chain.row, set()) - {chain.row}
            held = {c for c in children if self.remaining[c] > 0}
            if held and not force:
                self._block(chain, held)
                return False
            decision = decide_delete(
                change,
                frozenset(children),
                now_us=self.now,
                parked_since_us=entry.since_us,
                timeout_us=self.graph.delete_timeout_us(change.table),
            )
        self._apply_decision(chain, entry, decision)
        return True

    def _apply_decision(self, chain: _Chain, entry: _Entry, decision: Decision) -> None:
        item = entry.item
        if isinstance(decision, Apply):
            self._emit(Action.APPLY, entry, decision.change, Outcome.APPLIED)
            self._effects(chain.row, decision.change, item.position)
        elif isinstance(decision, Park):
            self._park_rest(chain, decision)
            return
        elif isinstance(decision.action, SetNull):
            self._emit(Action.APPLY, entry, decision.action.change, Outcome.ORPHAN_SET_NULL)
            self._effects(chain.row, decision.action.change, item.position)
        elif isinstance(decision.action, DeadLetter):
            self._emit(
                Action.DEAD_LETTER,
                entry,
                item.change,
                Outcome.DEAD_LETTERED,
                reason=decision.action.reason,
                missing_ref=decision.action.missing_ref,
            )
        else:
            assert isinstance(decision.action, Drop)
            self._emit(
                Action.DROP,
                entry,
                item.change,
                Outcome.ORPHAN_DROPPED,
                missing_ref=decision.action.missing_ref,
            )
        self._pop(chain)

    def _park_rest(self, chain: _Chain, decision: Park, *, queued: bool = False) -> None:
        head = not queued
        while chain.queue:
            entry = chain.queue[0]
            since = self.now if entry.since_us is None else entry.since_us
            info = ParkInfo(
                since_us=since,
                deadline_us=decision.deadline_us,
                waiting_for=decision.waiting_for,
                missing=decision.missing if head else (),
                check_v1=decision.check_v1 if head else (),
                waiting_in_v1=decision.waiting_in_v1 if head else (),
                queued=not head,
                fixup=entry.fixup,
            )
            self._emit(Action.PARK, entry, entry.item.change, Outcome.PARKED, park=info)
            head = False
            self._pop(chain)

    def _run(self, chain: _Chain, *, force: bool = False) -> None:
        chain.state = "running"
        self.stack.append(chain)
        first = True
        while self.stack:
            current = self.stack[-1]
            if not current.queue:
                current.state = "done"
                self.stack.pop()
                self._wake(current.row)
                continue
            if not self._step(current, force=force and first and current is chain):
                self.stack.pop()
            first = False

    # -- cycles

    def _relax(self) -> bool:
        """Apply one held upsert with its held set_null FK columns NULL; its fixup follows the parent."""
        for chain in sorted(self._blocked(), key=lambda c: c.placement):
            entry = chain.queue[0]
            change = entry.item.change
            if not isinstance(change, Upsert) or chain.row in self.fixups:
                continue
            refs = parent_refs(change, self.graph)
            missing, held = self._held_parents(chain.row, refs)
            held_refs = [r for r in missing if r.id in held]
            if not held_refs or any(
                self.graph.policies[r.relationship].on_orphan is not model.OnOrphan.SET_NULL
                for r in held_refs
            ):
                continue
            others = [r for r in refs if r not in held_refs]
            if any(not self._present(r.id) for r in others):
                continue  # a parent outside the cycle is missing too: let it park normally
            columns = tuple(c for r in held_refs for c in r.child_columns)
            relaxed = replace(change, values={**change.values, **dict.fromkeys(columns)})
            self._unblock(chain)
            self._emit(Action.APPLY, entry, relaxed, None, relaxed=columns)
            since = self.now if entry.since_us is None else entry.since_us
            deadline = min(since + self.graph.policies[r.relationship].park_timeout_us for r in held_refs)
            self.fixups[chain.row] = _Fixup(
                replace(entry, fixup=True), change, {r.id for r in held_refs}, deadline
            )
            self._effects(chain.row, relaxed, entry.item.position)
            self._pop(chain)
            self._run(chain)
            return True
        return False

    def _blocked(self) -> list[_Chain]:
        return [c for c in self.chains.values() if c.state == "blocked"]

    def _unblock(self, chain: _Chain) -> None:
        for other in chain.blocked_on:
            self.waiters.get(other, set()).discard(chain.row)
        chain.state = "running"

    def resolve(self) -> list[Step]:
        for chain in sorted(self.chains.values(), key=lambda c: c.placement):
            if chain.state == "pending":
                self._run(chain)
        while blocked := self._blocked():
            if self._relax():
                continue
            first = min(blocked, key=lambda c: c.placement)
            self._unblock(first)
            self._run(first, force=True)
        for fix in self.fixups.values():  # a relaxed row's parent ended parked: its fixup waits for it
            info = ParkInfo(
                since_us=self.now if fix.entry.since_us is None else fix.entry.since_us,
                deadline_us=fix.deadline_us,
                waiting_for=frozenset(fix.waiting),
                fixup=True,
            )
            self._emit(Action.PARK, fix.entry, fix.change, Outcome.PARKED, park=info)
        return self.steps


def resolve(plan: BatchPlan, lookups: Lookups) -> list[Step]:
    """The ordered write steps for the batch and the loaded parked items (see the module docstring)."""
    return _Resolver(plan, lookups).resolve()


def v1_checks(steps: Sequence[Step]) -> dict[RowId, ParentRef]:
    """Parents whose park timeout expired without a V1 answer: look them up in V1 and resolve again."""
    return {ref.id: ref for s in steps if s.park for ref in s.park.check_v1}


def tally(steps: Sequence[Step]) -> Ledger:
    """The batch's books: each new item consumed once with its outcome; a parked item that leaves the
    parked state counts as ``released`` plus its final outcome."""
    ledger = Ledger()
    for step in steps:
        if step.outcome is None:
            continue
        table, op = step.item.change.table, step.item.op
        reason = step.reason.value if step.reason else None
        if step.from_parked:
            ledger.record(table, op, Outcome.RELEASED)
            ledger.record(table, op, step.outcome, reason=reason)
        else:
            ledger.settle(table, op, step.outcome, reason=reason)
    return ledger
