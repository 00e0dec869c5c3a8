"""Resolve a planned batch into ordered write steps: the ordering rules described in
``replicator.pipeline.planner``. Pure: no I/O, no clock."""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

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
)
from replicator.pipeline.planner import (
    Action,
    BatchPlan,
    Lookups,
    ParkInfo,
    Positioned,
    RowVersion,
    Step,
)

__all__ = ["resolve", "tally", "v1_checks"]


# ---------------------------------------------------------------- resolving


@dataclass(slots=True)
class _Entry:
    item: Positioned
    from_parked: bool
    since_us: int | None
    fixup: bool = False
    refs: list[ParentRef] | None = None  # the item's parent refs when the planner computed them


_Queued = tuple[tuple[int, int, int], RowId]
"""A blocked chain in ``_Resolver.blocked_order``: (placement, row)."""


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
        self.fixups_on: dict[RowId, list[RowId]] = {}  # awaited row → rows whose fixup waits for it
        self.blocked: dict[RowId, _Chain] = {}
        self.blocked_order: list[_Queued] = []  # heap by placement; may be stale
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
            entries.setdefault(row, []).extend(
                [_Entry(plan.items[i], False, None, refs=plan.refs.get(i)) for i in indexes]
            )
            first.setdefault(row, indexes[0])
        self.chains: dict[RowId, _Chain] = {}
        for row, all_entries in entries.items():
            chain_entries = all_entries if len(all_entries) == 1 else self._drop_out_of_order(all_entries)
            last = chain_entries[-1].item.change
            rank = self.graph.rank.get(last.table, 0)
            placement = (1, -rank, first[row]) if isinstance(last, Delete) else (0, rank, first[row])
            self.chains[row] = _Chain(row, deque(chain_entries), placement)
            self.remaining[row] = len(chain_entries)
            self.remaining_upserts[row] = [isinstance(e.item.change, Upsert) for e in chain_entries].count(
                True
            )
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
            Step(
                action,
                entry.item,
                change,
                outcome,
                entry.from_parked,
                park,
                reason,
                missing_ref,
                relaxed,
                entry.fixup,
            )
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
            if not self.referencing:  # no delete in the batch waits for children: nothing to track
                self._run_fixups(row)
                return
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

    def _add_fixup(self, row: RowId, fix: _Fixup) -> None:
        self.fixups[row] = fix
        self._await(row, fix.waiting)

    def _await(self, row: RowId, rows: set[RowId]) -> None:
        for awaited in rows:
            self.fixups_on.setdefault(awaited, []).append(row)

    def _run_fixups(self, arrived: RowId) -> None:
        for row in self.fixups_on.pop(arrived, ()):
            fix = self.fixups.get(row)
            if fix is None or arrived not in fix.waiting:
                continue  # written already, or waiting for other rows now
            fix.waiting.discard(arrived)
            if not fix.waiting:
                # a parent the full row references may have been deleted since the relaxed apply
                fix.waiting = {r.id for r in parent_refs(fix.change, self.graph) if not self._present(r.id)}
                if fix.waiting:
                    self._await(row, fix.waiting)
                    continue
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
        waiting_rows = self.waiters.pop(row, None)
        if not waiting_rows:
            return
        woken = sorted(waiting_rows, key=lambda r: self.chains[r].placement, reverse=True)
        for waiting in woken:  # pushed latest-placed first, so the earliest runs first
            chain = self.chains[waiting]
            if chain.state == "blocked":
                self._unblock(chain)
                self.stack.append(chain)

    def _block(self, chain: _Chain, on: set[RowId]) -> None:
        chain.state = "blocked"
        chain.blocked_on = frozenset(on)
        self.blocked[chain.row] = chain
        heapq.heappush(self.blocked_order, (chain.placement, chain.row))
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
            refs = _refs(entry, change, self.graph)
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
        """Apply one held upsert with its held set_null FK columns NULL; its fixup follows the parent.
        The first relaxable blocked chain in placement order; those looked at stay queued."""
        order, looked_at = self.blocked_order, list[_Queued]()
        chosen: tuple[_Chain, list[ParentRef]] | None = None
        while order and chosen is None:
            queued = heapq.heappop(order)
            candidate = self.blocked.get(queued[1])
            if candidate is None or (looked_at and queued == looked_at[-1]):
                continue  # unblocked since, or queued twice (equal entries pop together)
            looked_at.append(queued)
            held = self._relaxable(candidate)
            if held:
                chosen = (candidate, held)
        for queued in looked_at:
            heapq.heappush(order, queued)
        if chosen is None:
            return False
        chain, held_refs = chosen
        entry = chain.queue[0]
        change = entry.item.change
        assert isinstance(change, Upsert)
        columns = tuple(c for r in held_refs for c in r.child_columns)
        relaxed = replace(change, values={**change.values, **dict.fromkeys(columns)})
        self._unblock(chain)
        self._emit(Action.APPLY, entry, relaxed, None, relaxed=columns)
        since = self.now if entry.since_us is None else entry.since_us
        deadline = min(since + self.graph.policies[r.relationship].park_timeout_us for r in held_refs)
        self._add_fixup(
            chain.row, _Fixup(replace(entry, fixup=True), change, {r.id for r in held_refs}, deadline)
        )
        self._effects(chain.row, relaxed, entry.item.position)
        self._pop(chain)
        self._run(chain)
        return True

    def _relaxable(self, chain: _Chain) -> list[ParentRef]:
        """The held refs a blocked chain's head can be applied without (all set_null), or []."""
        entry = chain.queue[0]
        change = entry.item.change
        if not isinstance(change, Upsert) or chain.row in self.fixups or entry.fixup:
            return []  # a fixup's row is already in V2 with those columns NULL: it only waits
        refs = _refs(entry, change, self.graph)
        missing, held = self._held_parents(chain.row, refs)
        held_refs = [r for r in missing if r.id in held]
        if not held_refs or any(
            self.graph.policies[r.relationship].on_orphan is not model.OnOrphan.SET_NULL for r in held_refs
        ):
            return []
        if any(not self._present(r.id) for r in refs if r not in held_refs):
            return []  # a parent outside the cycle is missing too: let it park normally
        return held_refs

    def _unblock(self, chain: _Chain) -> None:
        for other in chain.blocked_on:
            self.waiters.get(other, set()).discard(chain.row)
        chain.state = "running"
        del self.blocked[chain.row]

    def resolve(self) -> list[Step]:
        for chain in sorted(self.chains.values(), key=lambda c: c.placement):
            if chain.state == "pending":
                self._run(chain)
        while self.blocked:
            if self._relax():
                continue
            first = min(self.blocked.values(), key=lambda c: c.placement)
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


def _refs(entry: _Entry, change: Upsert, graph: FkGraph) -> list[ParentRef]:
    return entry.refs if entry.refs is not None else parent_refs(change, graph)


def resolve(plan: BatchPlan, lookups: Lookups) -> list[Step]:
    """The ordered write steps for the batch and the loaded parked items (see the module docstring)."""
    ready, rest = _ready_upserts(plan, lookups)
    if not ready:
        return _Resolver(plan, lookups).resolve()
    steps = [Step(Action.APPLY, item, item.change, Outcome.APPLIED) for item in ready]
    if not rest and not lookups.parked and not plan.stale:
        return steps
    written = {item.row for item in ready}
    rest_plan = replace(plan, chains={row: plan.chains[row] for row in rest})
    return steps + _Resolver(rest_plan, replace(lookups, existing=written | lookups.existing)).resolve()


def _ready_upserts(plan: BatchPlan, lookups: Lookups) -> tuple[list[Positioned], list[RowId]]:
    """Split the batch: the upserts that need none of the resolver's machinery, in placement order, and
    the rows left to it. Ready: the row's only change, newer than its version, nothing parked for it,
    and every parent already in V2 or ready before it. Applied first, they change no decision about the
    rest: they wait for nothing, and whatever waits for them would find them written by its turn anyway.
    Not when the batch deletes a parent: a child written before the delete must be counted among the
    rows that hold it back, which only the resolver's own order does."""
    if lookups.referencing:
        return [], list(plan.chains)
    parked = {p.item.row for p in lookups.parked}
    rank, versions = plan.graph.rank, lookups.versions
    candidates: list[tuple[int, int, Positioned]] = []
    rest: list[RowId] = []
    for row, indexes in plan.chains.items():
        item = plan.items[indexes[0]]
        version = versions.get(row)
        if (
            len(indexes) != 1
            or type(item.change) is not Upsert
            or row in parked
            or (version is not None and not item.position > version.position)
        ):
            rest.append(row)
        else:
            candidates.append((rank.get(item.change.table, 0), indexes[0], item))
    candidates.sort(key=_placement)
    existing = lookups.existing
    ready_rows: set[RowId] = set()
    ready: list[Positioned] = []
    for _rank, index, item in candidates:
        refs = plan.refs.get(index)
        change = item.change
        assert isinstance(change, Upsert)
        if all(
            r.id in ready_rows or r.id in existing
            for r in (refs if refs is not None else parent_refs(change, plan.graph))
        ):
            ready_rows.add(item.row)
            ready.append(item)
        else:
            rest.append(item.row)
    return ready, rest


def _placement(candidate: tuple[int, int, Positioned]) -> tuple[int, int]:
    return candidate[0], candidate[1]


def v1_checks(steps: Sequence[Step]) -> dict[RowId, ParentRef]:
    """Parents whose park timeout expired without a V1 answer: look them up in V1 and resolve again."""
    return {ref.id: ref for s in steps if s.park for ref in s.park.check_v1}


def tally(steps: Sequence[Step]) -> Ledger:
    """The batch's books: each new item consumed once with its outcome; a parked item that leaves the
    parked state counts as ``released`` plus its final outcome."""
    counts: Counter[tuple[str, bool, Outcome, DeadLetterReason | None, bool]] = Counter()
    for step in steps:  # counted first: a batch has thousands of steps and a handful of distinct kinds
        if step.outcome is not None:
            delete = isinstance(step.item.change, Delete)
            counts[(step.item.change.table, delete, step.outcome, step.reason, step.from_parked)] += 1
    ledger = Ledger()
    for (table, delete, outcome, dead_reason, from_parked), n in counts.items():
        op = "delete" if delete else "upsert"
        reason = dead_reason.value if dead_reason else None
        if from_parked:
            ledger.record(table, op, Outcome.RELEASED, n)
        else:
            ledger.consume(table, op, n)
        ledger.record(table, op, outcome, n, reason=reason)
    return ledger
