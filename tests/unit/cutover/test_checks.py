"""Cutover readiness verdicts from observed facts (pure), and the steps a recorded cutover has left."""

from __future__ import annotations

from dataclasses import replace

from replicator.cutover.checks import Facts, Limits, Verification, evaluate, ready
from replicator.cutover.state import CutoverState

DEFAULTS = Limits()
TABLES = ("users", "listings")
READY = Facts(
    connector_state="RUNNING",
    slot_active=True,
    retained_wal_bytes=2_000_000,
    workers=2,
    consumer_lag=10,
    parked=0,
    ledger_violations=[],
    verification={t: Verification("match", 60.0) for t in TABLES},
    v2_tables=TABLES,
    dead_letters={"ORPHAN_FK": 150},
    frozen=False,
)


def failing(facts: Facts, limits: Limits = DEFAULTS) -> list[str]:
    return [c.name for c in evaluate(facts, limits) if c.blocking and not c.passed]


def test_a_healthy_caught_up_verified_pipeline_is_ready() -> None:
    """Orphans dead-lettered by policy do not block; every check passes."""
    checks = evaluate(READY, Limits())
    assert ready(checks) and all(c.passed for c in checks)


def test_each_blocking_problem_is_named() -> None:
    cases = {
        "connector": [replace(READY, connector_state="FAILED"), replace(READY, slot_active=False)],
        "workers": [replace(READY, workers=0)],
        "consumer_lag": [replace(READY, consumer_lag=5_001)],
        "parked": [replace(READY, parked=1_001)],
        "accounting": [replace(READY, ledger_violations=["users/c: consumed 3, accounted 2"])],
        "verification": [
            replace(READY, verification={"users": Verification("match", 60.0)}),
            replace(READY, verification={**READY.verification, "users": Verification("mismatch", 60.0)}),
            replace(READY, verification={**READY.verification, "users": Verification("match", 25 * 3600.0)}),
        ],
        "dead_letters": [replace(READY, dead_letters={"ORPHAN_FK": 150, "TRANSFORM_ERROR": 2})],
    }
    for name, facts_list in cases.items():
        for facts in facts_list:
            assert failing(facts) == [name], (name, facts)
            assert not ready(evaluate(facts, Limits()))


def test_limits_are_the_crews_to_set() -> None:
    assert failing(replace(READY, consumer_lag=9_000), Limits(max_consumer_lag=10_000)) == []
    assert (
        failing(replace(READY, dead_letters={"TRANSFORM_ERROR": 2}), Limits(accept_dead_letters=True)) == []
    )
    assert failing(replace(READY, parked=1), Limits(max_parked=0)) == ["parked"]


def test_a_frozen_v1_is_noted_not_blocking() -> None:
    checks = {c.name: c for c in evaluate(replace(READY, frozen=True), Limits())}
    assert not checks["v1_not_frozen"].passed and not checks["v1_not_frozen"].blocking


def test_the_remaining_steps_follow_the_last_completed_one() -> None:
    assert CutoverState().remaining == ("check", "freeze", "fence", "drain", "verify", "sequences")
    assert CutoverState(step="fence").remaining == ("drain", "verify", "sequences")
    assert CutoverState(step="sequences").remaining == ()


def test_a_fence_position_is_spelled_as_postgresql_spells_it() -> None:
    """The drain waits for the slot at this text: a wrong spelling would wait for the wrong position."""
    from replicator.drain import pg_lsn

    assert pg_lsn(0x1D12E390) == "0/1D12E390"
    assert pg_lsn((5 << 32) + 0x10) == "5/10"


def test_rows_behind_a_mismatch_point_to_the_repair_that_fixes_them() -> None:
    facts = replace(READY, verification={**READY.verification, "users": Verification("mismatch", 60.0, 3, 2)})
    (check,) = [c for c in evaluate(facts, Limits()) if c.name == "verification"]
    assert not check.passed
    assert "not matching: users" in check.detail
    assert "3 extra V2 row(s), which `replicator repair extra` removes" in check.detail
    assert "2 missing or different V2 row(s), which `replicator repair missing` writes" in check.detail
