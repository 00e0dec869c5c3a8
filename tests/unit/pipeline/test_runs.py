"""``write_runs``: resolved steps grouped into as few statements as their dependencies allow."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings

from replicator.mapping.engine import Delete, Upsert
from replicator.pipeline.accounting import Outcome
from replicator.pipeline.fk import RowId
from replicator.pipeline.planner import Action, Positioned, Step
from replicator.pipeline.resolver import resolve
from replicator.pipeline.runs import Run, write_runs
from replicator.sink.store import _group_by_columns
from tests.unit.pipeline.test_fk import GRAPH, rid, up
from tests.unit.pipeline.test_planner import NOW, SECOND, Store, at, batches, dl, initial_store


def apply(item: Positioned, *, fixup: bool = False) -> Step:
    return Step(Action.FIXUP if fixup else Action.APPLY, item, item.change, Outcome.APPLIED)


def shape(runs: Sequence[Run]) -> list[tuple[str, list[int]]]:
    return [(r.table, [s.item.position.lsn for s in r.steps]) for r in runs]


def test_a_child_table_interleaved_with_its_parent_table_takes_two_statements() -> None:
    """A split writes parent, child, parent, child…: two runs, every parent before every child."""
    steps = [
        apply(at(up("networks", 1), 1)),
        apply(at(up("offices", 1, network_id=1), 2)),
        apply(at(up("networks", 2), 3)),
        apply(at(up("offices", 2, network_id=2), 4)),
    ]
    assert shape(write_runs(steps, GRAPH)) == [("networks", [1, 3]), ("offices", [2, 4])]


def test_a_cycle_keeps_relaxed_row_parent_fixup_in_that_order() -> None:
    """team ↔ lead agent: the relaxed agent, then its team, then the agent's fixup; other relaxed agents
    join the first agents run, their teams the teams run, their fixups the last run."""
    steps = [
        apply(at(up("agents", 1, team_id=None), 1)),
        apply(at(up("teams", 1, lead_agent_id=1), 2)),
        apply(at(up("agents", 1, team_id=1), 3), fixup=True),
        apply(at(up("agents", 2, team_id=None), 4)),
        apply(at(up("teams", 2, lead_agent_id=2), 5)),
        apply(at(up("agents", 2, team_id=2), 6), fixup=True),
    ]
    assert shape(write_runs(steps, GRAPH)) == [
        ("agents", [1, 4]),
        ("teams", [2, 5]),
        ("agents", [3, 6]),
    ]


def test_nothing_moves_across_a_delete() -> None:
    """An upsert after a delete stays after it, even with an earlier run of its table open."""
    steps = [
        apply(at(up("offices", 1), 1)),
        apply(at(dl("networks", 5), 2)),
        apply(at(up("offices", 2), 3)),
    ]
    assert shape(write_runs(steps, GRAPH)) == [
        ("offices", [1]),
        ("networks", [2]),
        ("offices", [3]),
    ]


def test_a_parent_of_the_same_table_may_share_the_statement() -> None:
    """A mentor written earlier in the batch and its mentee go in one statement (FKs are checked at its
    end); a parent of another table written later is not overtaken."""
    steps = [
        apply(at(up("agents", 1, mentor_agent_id=None), 1)),
        apply(at(up("offices", 9), 2)),
        apply(at(up("agents", 2, mentor_agent_id=1), 3)),
        apply(at(up("teams", 3, office_id=9), 4)),
        apply(at(up("teams", 4, office_id=None), 5)),
    ]
    assert shape(write_runs(steps, GRAPH)) == [
        ("agents", [1, 3]),
        ("offices", [2]),
        ("teams", [4, 5]),
    ]


def test_rows_of_two_column_sets_are_two_statements_in_dependency_order() -> None:
    """Two mappings into one table write different columns (users and archived_users into users): a
    row of one referencing a new row of the other goes in a later statement, never in the same run."""
    steps = [
        apply(at(up("agents", 1, mentor_agent_id=None), 1)),
        apply(at(up("agents", 2, name="archived"), 2)),
        apply(at(up("agents", 3, mentor_agent_id=2), 3)),
    ]
    assert shape(write_runs(steps, GRAPH)) == [("agents", [1]), ("agents", [2]), ("agents", [3])]


def _execute(store: Store, runs: Sequence[Run]) -> None:
    """Each run as one statement: its rows written, then every FK checked (as PostgreSQL does at the
    end of a statement)."""
    for run in runs:
        for step in run.steps:
            if isinstance(step.change, Delete):
                store.rows.pop(step.item.row, None)
            else:
                store.rows[step.item.row] = {**store.rows.get(step.item.row, {}), **step.change.values}
        for row in store.rows:
            missing = store.refs_of(row) - set(store.rows)
            assert not missing, f"FK: {row} references {missing} after the {run.table} statement"


def _writes_per_row(steps: Sequence[Step]) -> dict[RowId, list[Step]]:
    out: dict[RowId, list[Step]] = {}
    for step in steps:
        if step.action in (Action.APPLY, Action.FIXUP):
            out.setdefault(step.item.row, []).append(step)
    return out


@settings(max_examples=300, deadline=None)
@given(initial_store(), batches(), batches(start=50))
def test_runs_keep_every_fk_and_every_row_order(
    rows: dict[RowId, dict[str, object]], first: list[Positioned], second: list[Positioned]
) -> None:
    """Whatever the resolver produced: statement by statement, no FK is ever broken, each row's writes
    keep their order, and the runs hold exactly the data steps."""
    steps_store, runs_store = Store(rows), Store(rows)
    for batch, now in ((first, NOW), (second, NOW + 10_000 * SECOND)):
        plan, lookups = steps_store.lookups(batch, now)
        steps = resolve(plan, lookups)
        runs = write_runs(steps, GRAPH)
        steps_store.apply(steps)
        runs_store.table = dict(steps_store.table)
        _execute(runs_store, runs)
        assert runs_store.rows == steps_store.rows
        in_runs = [s for r in runs for s in r.steps]
        assert _writes_per_row(in_runs) == _writes_per_row(steps)
        assert sorted(map(id, in_runs)) == sorted(
            id(s) for s in steps if s.action in (Action.APPLY, Action.FIXUP)
        )
        assert all(
            isinstance(s.change, Delete) == r.delete and s.change.table == r.table
            for r in runs
            for s in r.steps
        )


def test_upsert_type_guard() -> None:
    """Only data steps are grouped: parks, skips and dead letters write no row."""
    item = at(up("networks", 1), 1)
    park = Step(Action.PARK, item, item.change, Outcome.PARKED)
    assert write_runs([park], GRAPH) == []
    assert isinstance(item.change, Upsert) and rid("networks", 1) == item.row


def test_rows_with_one_column_set_share_a_statement_whatever_their_column_order() -> None:
    """Two mappings into one table (users and archived_users) build the same columns in different
    orders; split into two statements, a row referencing a row of the other could be written first."""
    groups = _group_by_columns([{"id": 1, "referred_by": None}, {"referred_by": 1, "id": 2}])
    assert list(groups) == [("id", "referred_by")]
