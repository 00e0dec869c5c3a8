"""Cutover readiness: what was observed (``Facts``) → one verdict per check. Pure.

A blocking check that fails stops ``cutover run`` before V1 is frozen; the others inform. The
thresholds are the crew's to set (``Limits``): lag and parked rows need not be zero before the
freeze — the drain after the fence takes them to zero — only small enough for a short freeze.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from replicator.pipeline.deadletter import DeadLetterReason

__all__ = ["Check", "Facts", "Limits", "evaluate", "ready"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_consumer_lag: int = 5_000
    max_parked: int = 1_000
    max_verify_age_s: float = 24 * 3600.0
    accept_dead_letters: bool = False


@dataclass(frozen=True, slots=True)
class Verification:
    status: str
    age_s: float
    extra: int = 0
    """V2 rows V1 does not produce (``replicator repair extra`` removes them)."""
    wrong: int = 0
    """V2 rows missing or held differently from V1 (``replicator repair missing`` writes them)."""


@dataclass(frozen=True, slots=True)
class Facts:
    connector_state: str | None
    """The Debezium connector's and its task's state, e.g. ``RUNNING``; None when not registered."""
    slot_active: bool | None
    retained_wal_bytes: int | None
    workers: int
    consumer_lag: int
    parked: int
    ledger_violations: Sequence[str]
    verification: Mapping[str, Verification]
    v2_tables: Sequence[str]
    dead_letters: Mapping[str, int]
    """Dead letters never replayed, by reason."""
    frozen: bool
    """V1 is frozen already (a run in progress)."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str
    blocking: bool = True

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "blocking": self.blocking, "detail": self.detail}


def evaluate(facts: Facts, limits: Limits) -> list[Check]:
    return [
        _connector(facts),
        Check("workers", facts.workers > 0, f"{facts.workers} worker(s) in the consumer group"),
        Check(
            "consumer_lag",
            facts.consumer_lag <= limits.max_consumer_lag,
            f"{facts.consumer_lag:,} events behind (at most {limits.max_consumer_lag:,})",
        ),
        Check(
            "parked",
            facts.parked <= limits.max_parked,
            f"{facts.parked:,} changes waiting for a parent (at most {limits.max_parked:,})",
        ),
        Check(
            "accounting",
            not facts.ledger_violations,
            "every consumed event has an outcome"
            if not facts.ledger_violations
            else f"unbalanced: {'; '.join(facts.ledger_violations[:3])}",
        ),
        _verification(facts, limits),
        _dead_letters(facts, limits),
        Check(
            "v1_not_frozen",
            not facts.frozen,
            "V1 takes writes"
            if not facts.frozen
            else "V1 is frozen: a cutover is under way (resume or abort it)",
            blocking=False,
        ),
    ]


def ready(checks: Sequence[Check]) -> bool:
    return all(c.passed for c in checks if c.blocking)


def _connector(facts: Facts) -> Check:
    if facts.connector_state is None:
        return Check("connector", False, "the Debezium connector is not registered")
    slot = {True: "slot active", False: "slot inactive", None: "no replication slot"}[facts.slot_active]
    wal = (
        f", {facts.retained_wal_bytes / 1e6:,.1f} MB of WAL retained"
        if facts.retained_wal_bytes is not None
        else ""
    )
    running = facts.connector_state == "RUNNING" and facts.slot_active is True
    return Check("connector", running, f"connector {facts.connector_state}, {slot}{wal}")


def _verification(facts: Facts, limits: Limits) -> Check:
    missing = [t for t in facts.v2_tables if t not in facts.verification]
    failed = [
        t for t in facts.v2_tables if t in facts.verification and facts.verification[t].status != "match"
    ]
    stale = [
        t
        for t in facts.v2_tables
        if t in facts.verification and facts.verification[t].age_s > limits.max_verify_age_s
    ]
    if missing or failed or stale:
        parts = []
        if failed:
            parts.append(f"not matching: {', '.join(failed)}")
        if missing:
            parts.append(f"never verified: {', '.join(missing)}")
        if stale:
            parts.append(f"verified more than {limits.max_verify_age_s / 3600:g} h ago: {', '.join(stale)}")
        extra = sum(facts.verification[t].extra for t in failed)
        if extra:
            parts.append(f"{extra:,} extra V2 row(s), which `replicator repair extra` removes")
        wrong = sum(facts.verification[t].wrong for t in failed)
        if wrong:
            parts.append(
                f"{wrong:,} missing or different V2 row(s), which `replicator repair missing` writes"
            )
        return Check("verification", False, "; ".join(parts) + " (run `replicator verify`)")
    return Check("verification", True, f"all {len(facts.v2_tables)} V2 tables match V1")


def _dead_letters(facts: Facts, limits: Limits) -> Check:
    """Orphans dead-lettered by their relationship's policy are an outcome the mapping chose; any other
    dead letter is a change V2 lacks, to be fixed and replayed (or accepted with --accept-dead-letters)."""
    orphans = facts.dead_letters.get(DeadLetterReason.ORPHAN_FK.value, 0)
    others = {
        r: n for r, n in sorted(facts.dead_letters.items()) if r != DeadLetterReason.ORPHAN_FK.value and n
    }
    policy = f"{orphans:,} orphans dead-lettered by policy"
    if not others:
        return Check("dead_letters", True, policy)
    listed = ", ".join(f"{n:,} {r}" for r, n in others.items())
    return Check(
        "dead_letters",
        limits.accept_dead_letters,
        f"{listed} not replayed (`replicator dlq list`); {policy}"
        + (" — accepted" if limits.accept_dead_letters else ""),
    )
