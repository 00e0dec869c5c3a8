"""Group a batch's write steps into as few set-based statements as their dependencies allow. Pure.

The sink writes a *run* (upserts of one table and one column set, or deletes of one table) with one
statement. Resolved steps interleave tables wherever rows depend on one another: a split writes
``agents`` then ``agent_licenses`` row by row, and the teams ↔ lead agents cycle alternates relaxed
agent, team, agent fixup. Written in step order, that is one tiny statement per step.

``write_runs`` moves each upsert to the earliest run of its table and column set that keeps everything
it depends on before it:

* an earlier write of the same row (same run: merged in order; or a later run);
* rows of one run write the same columns: two mappings into one table (users and archived_users)
  write different column sets, and one statement per set inside a run would order them by chance;
* every parent row it references (a parent of the same table may share its run: a statement's FK
  checks run at its end);
* every delete before it, and every delete keeps its place: a parent delete waits for the children
  the resolver moved or removed before it, and nothing is moved across it.

Moving an upsert earlier can break nothing already placed after its new run: those steps came before
it in resolution order, so none of them needed it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from replicator.mapping.engine import Delete, Upsert
from replicator.pipeline.fk import FkGraph, RowId, parent_refs
from replicator.pipeline.planner import Action, Step

__all__ = ["Run", "write_runs"]


@dataclass(slots=True)
class Run:
    table: str
    delete: bool
    steps: list[Step] = field(default_factory=list)


def write_runs(steps: Sequence[Step], graph: FkGraph) -> list[Run]:
    """The data writes of ``steps`` (``APPLY`` and ``FIXUP``) as runs, in the order to execute them."""
    runs: list[Run] = []
    by_key: dict[tuple[str, frozenset[str]], list[int]] = {}  # upsert runs per (table, columns), ascending
    shapes: dict[tuple[str, tuple[str, ...]], list[int]] = {}  # the same lists, by column order as it came
    last_of_table: dict[str, int] = {}
    row_at: dict[RowId, int] = {}  # the latest run writing each row
    floor = 0  # no upsert goes before the latest delete run
    for step in steps:
        if step.action is not Action.APPLY and step.action is not Action.FIXUP:
            continue
        change = step.change
        table, row = change.table, step.item.row
        if isinstance(change, Delete):
            if not runs or runs[-1].table != table or not runs[-1].delete:
                runs.append(Run(table, True))
            index = len(runs) - 1
            floor = index + 1
        else:
            assert isinstance(change, Upsert)
            lowest = max(floor, row_at.get(row, 0))
            # a parent of the same table may share the run: only a later run of it can matter
            parents = graph.parent_tables.get(table, ())
            if any(last_of_table.get(p, -1) >= lowest + (p == table) for p in parents):
                for ref in parent_refs(change, graph):
                    at = row_at.get(ref.id)
                    if at is not None:
                        lowest = max(lowest, at if ref.table == table else at + 1)
            # Rows of one mapping come with their columns in one order: a tuple finds the run list
            # faster than a set, and a set names it (two orders of one column set share the runs).
            shape = (table, tuple(change.values))
            if (candidates := shapes.get(shape)) is None:
                candidates = shapes[shape] = by_key.setdefault((table, frozenset(shape[1])), [])
            position = bisect_left(candidates, lowest)
            if position < len(candidates):
                index = candidates[position]
            else:
                runs.append(Run(table, False))
                index = len(runs) - 1
                candidates.append(index)
        runs[index].steps.append(step)
        row_at[row] = max(index, row_at.get(row, 0))
        last_of_table[table] = max(index, last_of_table.get(table, -1))
    return runs
