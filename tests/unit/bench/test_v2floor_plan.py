"""System f's plan: the load's groups as V2 tables, each after its parents, shares only where rows cannot
reference each other across processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.systems.v2floor import Step, plan_steps
from replicator.load.order import load_groups
from replicator.mapping.model import Mapping, load_mapping

DEMO = Path(__file__).resolve().parents[3] / "schemas" / "mapping.yaml"
DEFERRABLE = {("teams", "agents")}
"""The demo V2's only deferrable key (teams.lead_agent → agents): V2 checks it at commit."""


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping(DEMO)


@pytest.fixture(scope="module")
def steps(mapping: Mapping) -> list[Step]:
    return plan_steps(mapping, _edges(mapping))


def _edges(mapping: Mapping) -> dict[str, set[str]]:
    return {
        child: {p for p in parents if p != child and (child, p) not in DEFERRABLE}
        for child, parents in mapping.parents().items()
    }


def test_every_v2_table_is_written_once(mapping: Mapping, steps: list[Step]) -> None:
    written = [t for step in steps for t in step.tables]
    assert sorted(written) == sorted(mapping.target_tables())


def test_each_table_comes_after_the_tables_it_references(mapping: Mapping, steps: list[Step]) -> None:
    """Checked at the end of each statement, a non-deferrable key needs its parent's rows committed by an
    earlier step, or written earlier in the same transaction (a whole step)."""
    position = {t: (n, i) for n, step in enumerate(steps) for i, t in enumerate(step.tables)}
    for child, parents in _edges(mapping).items():
        for parent in parents:
            (child_step, child_at), (parent_step, parent_at) = position[child], position[parent]
            same = child_step == parent_step
            assert parent_step < child_step or (same and steps[child_step].whole and parent_at < child_at), (
                f"{child} is written before its parent {parent}"
            )


def test_rows_that_reference_each_other_stay_in_one_process(steps: list[Step]) -> None:
    """Self-references, the teams ↔ agents cycle and a split (agents → agent_licenses) are written whole
    by one transaction; a table alone with no such links is shared between the processes."""
    step_of = {t: step for step in steps for t in step.tables}
    for table in ("users", "agents", "teams", "agent_licenses"):
        assert step_of[table].whole, table
    assert step_of["teams"] is step_of["agents"]
    assert not step_of["listing_media"].whole


def test_a_table_fed_by_two_sources_waits_for_the_last(mapping: Mapping, steps: list[Step]) -> None:
    """users is fed by users and archived_users: it goes where both sources' groups have been read."""
    sources = {t.source for t in mapping.tables if t.target == "users"}
    assert sources == {"users", "archived_users"}
    (step,) = [s for s in steps if "users" in s.tables]
    groups = load_groups(mapping)
    last = max(n for n, group in enumerate(groups) if sources & set(group))
    assert step.group == groups[last]
