"""Batch planning and resolution: per-row order, FK-safe write order, parking, release and the books."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from replicator.mapping.engine import Delete, Upsert, Write
from replicator.pipeline.accounting import Ledger, Outcome
from replicator.pipeline.envelope import Position
from replicator.pipeline.fk import RowId, parent_refs
from replicator.pipeline.planner import (
    Action,
    BatchPlan,
    Lookups,
    Parked,
    ParkedId,
    ParkInfo,
    Positioned,
    RowVersion,
    Step,
    lookup_request,
    parked_id,
    parked_writes,
    plan_batch,
)
from replicator.pipeline.resolver import _Resolver, resolve, tally, v1_checks
from tests.unit.pipeline.test_fk import GRAPH, SECOND, rid, up

NOW = 1_000 * SECOND


def at(change: Write, lsn: int, *, commit: int | None = None) -> Positioned:
    return Positioned(change, Position(commit if commit is not None else lsn, lsn), "t", 0, lsn, lsn)


def dl(table: str, id_: int) -> Delete:
    return Delete(table, table, (id_,))


class Store:
    """A V2 stand-in with FK constraints on: applying a step that breaks one fails the test. Its parked
    table changes as the sink's does (``parked_writes``)."""

    def __init__(self, rows: dict[RowId, dict[str, object]] | None = None) -> None:
        self.rows: dict[RowId, dict[str, object]] = dict(rows or {})
        self.versions: dict[RowId, RowVersion] = {r: RowVersion(Position(0, 0), False) for r in self.rows}
        self.table: dict[ParkedId, Parked] = {}

    @property
    def parked(self) -> list[Parked]:
        return list(self.table.values())

    def refs_of(self, row: RowId) -> set[RowId]:
        values = self.rows[row]
        key = values["id"]
        return {r.id for r in parent_refs(Upsert(row[0], row[0], (key,), values, frozenset()), GRAPH)}

    def lookups(self, items: Sequence[Positioned], now_us: int = NOW, **kw: Any) -> tuple[Any, Lookups]:
        plan = plan_batch(items, GRAPH)
        request = lookup_request(plan, self.parked)
        referencing: dict[RowId, set[RowId]] = {}
        for c in request.children:
            referencing.setdefault(c.parent, set()).update(
                r
                for r, v in self.rows.items()
                if r[0] == c.child_table and tuple(v.get(k) for k in c.child_columns) == c.values
            )
        return plan, Lookups(
            now_us=now_us,
            existing=frozenset(self.rows),
            versions=dict(self.versions),
            parked=list(self.parked),
            referencing=referencing,
            **kw,
        )

    def apply(self, steps: Sequence[Step]) -> None:
        stored = {i: (p.deadline_us, p.waiting_for) for i, p in self.table.items()}
        writes = parked_writes(steps, stored)
        for ident in writes.remove:
            del self.table[ident]
        for step in writes.upsert:
            assert step.park is not None
            parked = replace(step.park.parked(step.item), deadline_us=step.park.deadline_us)
            self.table[parked_id(step.item, fixup=parked.fixup)] = parked
        for step in steps:
            row = step.item.row
            if step.action not in (Action.APPLY, Action.FIXUP):
                continue
            version = self.versions.get(row)
            if step.action is Action.APPLY:
                assert version is None or step.item.position > version.position, "version guard"
            if isinstance(step.change, Delete):
                self.rows.pop(row, None)
                for other in self.rows:
                    assert row not in self.refs_of(other) or other == row, (
                        f"FK: {other} still references {row}"
                    )
                self.versions[row] = RowVersion(step.item.position, True)
            else:
                self.rows[row] = {**self.rows.get(row, {}), **step.change.values}
                missing = self.refs_of(row) - set(self.rows)
                assert not missing, f"FK: {row} written before its parents {missing}"
                self.versions[row] = RowVersion(step.item.position, False)

    def run(self, items: Sequence[Positioned], now_us: int = NOW, **kw: Any) -> list[Step]:
        plan, lookups = self.lookups(items, now_us, **kw)
        steps = resolve(plan, lookups)
        self.apply(steps)
        return steps


def actions(steps: Sequence[Step]) -> list[tuple[str, str, int]]:
    return [(s.action.value, s.item.change.table, s.item.position.lsn) for s in steps]


# ---------------------------------------------------------------- planning


def test_plan_groups_changes_per_row_in_batch_order_and_marks_duplicates() -> None:
    """Changes of one row keep batch order; a redelivered one (position not above) is stale."""
    a1, a2, b = at(up("networks", 1), 5), at(up("networks", 1, name="x"), 7), at(up("networks", 2), 6)
    plan = plan_batch([a1, a2, b, a1], GRAPH)
    assert plan.chains[rid("networks", 1)] == (0, 1)
    assert plan.stale == {3}


def test_plan_lists_parents_to_look_up_and_children_of_deletes() -> None:
    """The sink is told which parent keys to check per table and which child rows may block a delete."""
    plan = plan_batch([at(up("offices", 1, network_id=9), 1), at(dl("offices", 2), 2)], GRAPH)
    assert plan.request.parent_keys == {"networks": {(9,)}}
    assert plan.request.rows == {rid("offices", 1), rid("offices", 2)}
    assert {(c.child_table, c.child_columns, c.values) for c in plan.request.children} == {
        ("teams", ("office_id",), (2,)),
        ("notes", ("office_id",), (2,)),
    }


# ---------------------------------------------------------------- resolving


def test_parent_is_written_before_its_child_whatever_the_batch_order() -> None:
    """A child listed before its parent in the batch is written after it (topological order)."""
    store = Store()
    steps = store.run([at(up("offices", 1, network_id=9), 1), at(up("networks", 9), 2)])
    assert actions(steps) == [("apply", "networks", 2), ("apply", "offices", 1)]


def test_child_without_parent_is_parked_and_later_changes_queue_behind_it() -> None:
    """A missing parent parks the child; the row's next change is parked behind it, not applied."""
    store = Store()
    steps = store.run(
        [at(up("offices", 1, network_id=9), 1), at(up("offices", 1, network_id=9, name="b"), 2)]
    )
    assert [(s.action, s.outcome) for s in steps] == [(Action.PARK, Outcome.PARKED)] * 2
    assert steps[1].park is not None and steps[1].park.queued
    assert steps[0].park is not None and steps[0].park.waiting_for == {rid("networks", 9)}


def test_parked_child_is_released_once_its_parent_arrives() -> None:
    """When the parent arrives, the parked child and its queued changes apply after it, in order (the
    batch's ready upserts go first: ``networks`` 4 too)."""
    store = Store()
    store.run([at(up("offices", 1, network_id=9), 1), at(up("offices", 1, network_id=9, name="b"), 2)])
    steps = store.run([at(up("networks", 9), 3), at(up("networks", 8), 4)])
    assert actions(steps) == [
        ("apply", "networks", 3),
        ("apply", "networks", 4),
        ("apply", "offices", 1),
        ("apply", "offices", 2),
    ]
    assert [s.released for s in steps] == [False, False, True, True]
    assert store.rows[rid("offices", 1)]["name"] == "b" and store.parked == []


def test_stale_and_resurrecting_changes_are_skipped() -> None:
    """A change at or below the stored version is stale; an older upsert cannot resurrect a deleted row."""
    store = Store({rid("networks", 1): {"id": 1}})
    store.run([at(dl("networks", 1), 10)])
    steps = store.run([at(up("networks", 1), 5), at(dl("networks", 1), 10)])
    assert {(s.action, s.outcome) for s in steps} == {
        (Action.SKIP_RESURRECT, Outcome.SKIPPED_RESURRECT),
        (Action.SKIP_STALE, Outcome.SKIPPED_STALE),
    }
    assert rid("networks", 1) not in store.rows


def test_children_are_deleted_before_their_parent() -> None:
    """Deletes run children first, so a parent delete in the same batch as its children's never fails."""
    store = Store({rid("networks", 1): {"id": 1}, rid("offices", 2): {"id": 2, "network_id": 1}})
    steps = store.run([at(dl("networks", 1), 1), at(dl("offices", 2), 2)])
    assert actions(steps) == [("apply", "offices", 2), ("apply", "networks", 1)]


def test_parent_delete_waits_for_children_still_in_v2() -> None:
    """A parent delete whose children remain in V2 is parked, then applied once the children go."""
    store = Store({rid("networks", 1): {"id": 1}, rid("offices", 2): {"id": 2, "network_id": 1}})
    steps = store.run([at(dl("networks", 1), 1)])
    assert [s.action for s in steps] == [Action.PARK]
    assert steps[0].park is not None and steps[0].park.waiting_for == {rid("offices", 2)}
    steps = store.run([at(dl("offices", 2), 2)])
    assert actions(steps) == [("apply", "offices", 2), ("apply", "networks", 1)]
    assert steps[1].released and store.rows == {}


def test_parent_delete_is_dead_lettered_when_children_never_go() -> None:
    """After the longest park timeout to the table, a blocked parent delete is dead-lettered, not lost."""
    store = Store({rid("networks", 1): {"id": 1}, rid("offices", 2): {"id": 2, "network_id": 1}})
    store.run([at(dl("networks", 1), 1)])
    steps = store.run([], now_us=NOW + 31 * SECOND)
    assert [(s.action, s.outcome, s.released) for s in steps] == [
        (Action.DEAD_LETTER, Outcome.DEAD_LETTERED, True)
    ]


def test_a_new_team_and_its_lead_agent_in_one_batch_break_the_cycle_with_a_fixup() -> None:
    """Team ↔ lead agent (nullable FKs): one goes in with the FK null, fixed up after the other."""
    store = Store()
    steps = store.run(
        [at(up("teams", 1, office_id=None, lead_agent_id=2), 1), at(up("agents", 2, team_id=1), 2)]
    )
    assert [(s.action, s.item.change.table, s.outcome) for s in steps] == [
        (Action.APPLY, "teams", None),
        (Action.APPLY, "agents", Outcome.APPLIED),
        (Action.FIXUP, "teams", Outcome.APPLIED),
    ]
    assert steps[0].relaxed == ("lead_agent_id",)
    assert store.rows[rid("teams", 1)]["lead_agent_id"] == 2
    assert tally(steps).violation() is None


def test_a_self_reference_within_the_batch_is_written_mentor_first() -> None:
    """An agent whose mentor is inserted later in the batch waits for the mentor (in-batch release)."""
    store = Store()
    steps = store.run([at(up("agents", 1, mentor_agent_id=2), 1), at(up("agents", 2), 2)])
    assert actions(steps) == [("apply", "agents", 2), ("apply", "agents", 1)]


def test_orphan_handling_needs_a_v1_answer() -> None:
    """An expired park asks V1 first; a parent absent in V1 then gets the relationship's policy."""
    store = Store()
    store.run([at(up("teams", 1, office_id=7, lead_agent_id=None), 1)])
    later = NOW + 31 * SECOND
    steps = store.run([], now_us=later)
    assert [s.outcome for s in steps] == [None] and list(v1_checks(steps)) == [rid("offices", 7)]
    steps = store.run([], now_us=later, v1_presence={rid("offices", 7): False})
    assert [(s.action, s.outcome, s.released) for s in steps] == [
        (Action.APPLY, Outcome.ORPHAN_SET_NULL, True)
    ]
    assert store.rows[rid("teams", 1)]["office_id"] is None


def test_a_fixup_parked_again_in_a_cycle_stays_parked_until_its_parent_comes() -> None:
    """Regression (agents 8 and 39 once kept team_id NULL after the empty-target sync): a relaxed row's
    parked fixup, loaded again with its still-blocked cycle (the team waits for its office and its lead,
    the lead for its mentor), stays parked as stored and is applied once the team arrives — it is never
    dropped from the parked table while the row keeps its FK column NULL."""
    store = Store()
    team = at(up("teams", 6, office_id=4, lead_agent_id=31), 1)
    lead = at(up("agents", 31, team_id=6, mentor_agent_id=99), 1)
    member = at(up("agents", 8, team_id=6), 1)
    store.run([team, lead, member])
    assert store.rows[rid("agents", 8)]["team_id"] is None
    fixup = [p for p in store.parked if p.fixup]
    assert [(p.item.row, p.waiting_for) for p in fixup] == [(rid("agents", 8), {rid("teams", 6)})]
    again = store.run([], now_us=NOW + SECOND)  # a sweep (or batch) that loads the cycle again
    assert [s.action for s in again if s.item.row == rid("agents", 8)] == [Action.PARK]
    assert [p.item.row for p in store.parked if p.fixup] == [rid("agents", 8)]
    store.run([at(up("offices", 4), 2), at(up("agents", 99), 3)], now_us=NOW + 2 * SECOND)
    assert store.parked == []
    assert store.rows[rid("agents", 8)]["team_id"] == 6
    assert store.rows[rid("teams", 6)]["lead_agent_id"] == 31


def test_the_parked_table_keeps_an_item_one_step_releases_and_another_parks() -> None:
    """An item that leaves the parked set by one step and is parked again by another is kept (rewritten
    only if its deadline or awaited rows changed); loaded items that got any other final step go, fixups
    included; a fixup never stored is not removed."""
    item = at(up("agents", 8, team_id=6), 1)
    waiting = frozenset({rid("teams", 6)})
    park = ParkInfo(since_us=NOW, deadline_us=NOW + SECOND, waiting_for=waiting, fixup=True)
    fixup_id = parked_id(item, fixup=True)
    stored = {fixup_id: (NOW + SECOND, waiting)}
    relaxed = Step(Action.FIXUP, item, item.change, None, from_parked=True, fixup=True)
    parked_again = Step(Action.PARK, item, item.change, None, from_parked=True, park=park, fixup=True)
    writes = parked_writes([relaxed, parked_again], stored)
    assert (writes.remove, writes.upsert) == ((), ())
    later = replace(park, deadline_us=NOW + 2 * SECOND)
    writes = parked_writes([relaxed, replace(parked_again, park=later)], stored)
    assert writes.remove == () and [s.park for s in writes.upsert] == [later]
    stale = Step(Action.SKIP_STALE, item, item.change, Outcome.SKIPPED_STALE, from_parked=True, fixup=True)
    assert parked_writes([stale], stored).remove == (fixup_id,)
    assert parked_writes([relaxed], {}).remove == ()


def test_a_fixup_whose_parent_was_deleted_in_the_batch_waits_for_it() -> None:
    """A relaxed row's fixup is not written while a parent it references is absent (deleted after the
    relaxed apply): it waits for that parent like any child."""
    store = Store()
    store.run(
        [
            at(up("agents", 1, team_id=None, mentor_agent_id=3), 1),
            at(up("teams", 1, office_id=None, lead_agent_id=3), 2),
            at(dl("agents", 1), 3),
        ]
    )
    steps = store.run(
        [at(up("agents", 3, team_id=1, mentor_agent_id=1), 100), at(dl("teams", 1), 101)],
        now_us=NOW + 10_000 * SECOND,
    )
    fixups = [s for s in steps if s.item.row == rid("agents", 3) and s.fixup]
    assert [s.action for s in fixups] == [Action.PARK]
    assert fixups[0].park is not None and rid("agents", 1) in fixups[0].park.waiting_for


# ---------------------------------------------------------------- properties

TABLE_FKS = {
    "offices": (),
    "teams": ("office_id", "lead_agent_id"),
    "agents": ("team_id", "mentor_agent_id"),
    "notes": ("agent_id", "office_id"),
}
IDS = st.integers(1, 3)


@st.composite
def changes(draw: st.DrawFn) -> Write:
    table = draw(st.sampled_from(sorted(TABLE_FKS)))
    id_ = draw(IDS)
    if draw(st.integers(0, 3)) == 0:
        return dl(table, id_)
    return up(table, id_, **{c: draw(st.none() | IDS) for c in TABLE_FKS[table]})


@st.composite
def initial_store(draw: st.DrawFn) -> dict[RowId, dict[str, object]]:
    """A V2 state that satisfies every FK."""
    rows: dict[RowId, dict[str, object]] = {}
    offices = draw(st.sets(IDS))
    for o in offices:
        rows[rid("offices", o)] = {"id": o}
    teams = draw(st.sets(IDS))
    for t in teams:
        rows[rid("teams", t)] = {
            "id": t,
            "office_id": draw(st.sampled_from(sorted(offices)) | st.none()) if offices else None,
            "lead_agent_id": None,
        }
    agents = draw(st.sets(IDS))
    for a in agents:
        rows[rid("agents", a)] = {
            "id": a,
            "team_id": draw(st.sampled_from(sorted(teams))) if teams else None,
            "mentor_agent_id": None,
        }
    return rows


@st.composite
def batches(draw: st.DrawFn, start: int = 1) -> list[Positioned]:
    """Changes with increasing positions; some redelivered (duplicated) later in the batch."""
    items = [at(c, start + i) for i, c in enumerate(draw(st.lists(changes(), max_size=12)))]
    for index in draw(st.lists(st.integers(0, max(len(items) - 1, 0)), max_size=3)):
        if items:
            items.append(replace(items[index]))  # a distinct record with the same content
    return items


def _outcomes_per_input(steps: Sequence[Step]) -> Counter[tuple[int, bool]]:
    """How many outcome-bearing steps each input item got (a parked item staying parked: its PARK step)."""
    seen: Counter[tuple[int, bool]] = Counter()
    for step in steps:
        if step.outcome is not None or (step.from_parked and step.action is Action.PARK):
            seen[(id(step.item), step.from_parked)] += 1
    return seen


@dataclass(frozen=True)
class History:
    """A V2 state and three batches: the second before any timeout (it reloads what the first parked),
    the third after every timeout, when V1 answers ``v1`` to the parents it is asked about."""

    rows: dict[RowId, dict[str, object]]
    batches: tuple[list[Positioned], list[Positioned], list[Positioned]]
    v1: bool | None

    def timeline(self) -> list[tuple[list[Positioned], int, bool | None]]:
        first, middle, second = self.batches
        return [(first, NOW, None), (middle, NOW + SECOND, None), (second, NOW + 10_000 * SECOND, self.v1)]


@st.composite
def histories(draw: st.DrawFn) -> History:
    batches_ = (draw(batches()), draw(batches(start=50)), draw(batches(start=100)))
    return History(draw(initial_store()), batches_, draw(st.sampled_from([None, True, False])))


def _resolve_asking_v1(
    resolver: Callable[[BatchPlan, Lookups], list[Step]], plan: BatchPlan, lookups: Lookups, v1: bool | None
) -> list[Step]:
    if v1 is not None:
        lookups = replace(lookups, v1_presence=dict.fromkeys(v1_checks(resolver(plan, lookups)), v1))
    return resolver(plan, lookups)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_resolved_steps_keep_fks_order_and_the_books(history: History) -> None:
    """Over a history: every FK holds at every write, no row moves backwards, every input item gets
    exactly one outcome, the books balance, and the parked table holds exactly what they say."""
    store = Store(history.rows)
    books = Ledger()
    for batch, now, presence in history.timeline():
        parked_in = list(store.parked)
        plan, lookups = store.lookups(batch, now)
        steps = _resolve_asking_v1(resolve, plan, lookups, presence)
        store.apply(steps)  # asserts FKs and the version guard
        per_input = _outcomes_per_input(steps)
        assert sum(per_input.values()) == len(batch) + len(parked_in)
        assert all(n == 1 for n in per_input.values())
        books.merge(tally(steps))
        assert books.violation() is None
        assert sum(books.parked_now().values()) == len(store.parked)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_ready_upserts_first_decide_exactly_what_the_whole_resolver_decides(history: History) -> None:
    """``resolve`` applies the batch's ready upserts first and resolves only the rest; resolving the
    whole batch instead must end in the same V2 rows, the same parked table and the same books (a last
    batch redelivers the first: below the stored versions)."""
    split, whole = Store(history.rows), Store(history.rows)
    replay = ([replace(item) for item in history.batches[0]], NOW + 10_001 * SECOND, history.v1)
    for batch, now, presence in [*history.timeline(), replay]:
        books = []
        for store, resolver in ((split, resolve), (whole, _whole_batch)):
            plan, lookups = store.lookups(batch, now)
            steps = _resolve_asking_v1(resolver, plan, lookups, presence)
            store.apply(steps)
            books.append(tally(steps).entries())
        assert split.rows == whole.rows
        assert split.table == whole.table
        assert books[0] == books[1]


def _whole_batch(plan: BatchPlan, lookups: Lookups) -> list[Step]:
    return _Resolver(plan, lookups).resolve()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2]), min_size=1, max_size=8), st.permutations(range(8)))
def test_one_row_never_applies_a_lower_position_after_a_higher_one(
    kinds: list[int], order: list[int]
) -> None:
    """For any interleaving and redelivery of one row's changes, applied positions strictly increase."""
    items = [
        at(dl("offices", 1) if k == 0 else up("offices", 1, name=str(k)), i + 1) for i, k in enumerate(kinds)
    ]
    shuffled = [items[i] for i in order if i < len(items)] + items[:2]
    store = Store()
    applied = [s.item.position for s in store.run(shuffled) if s.action is Action.APPLY]
    assert applied == sorted(set(applied))


@settings(max_examples=200, deadline=None)
@given(initial_store(), batches())
def test_a_replayed_batch_after_everything_was_applied_only_skips(
    rows: dict[RowId, dict[str, object]], batch: list[Positioned]
) -> None:
    """Replaying a fully applied batch yields only SKIP_STALE / SKIP_RESURRECT and changes nothing."""
    store = Store(rows)
    steps = store.run(batch)
    if any(s.action is Action.PARK or s.action is Action.DEAD_LETTER for s in steps):
        return  # not fully applied: replay would (rightly) re-evaluate those
    before = {r: dict(v) for r, v in store.rows.items()}
    replay = store.run(batch)
    assert {s.action for s in replay} <= {Action.SKIP_STALE, Action.SKIP_RESURRECT}
    assert store.rows == before
