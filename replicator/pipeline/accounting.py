"""The books of guarantee 1 (nothing silently lost): every consumed event ends in a stated outcome. Pure.

An **event** is one unit the pipeline owes an outcome to: one V2 change (a mapped upsert or delete;
keyed by V2 table and op ``upsert``/``delete``), or one Kafka record that yields no V2 change (keyed by V1
table and its Debezium op, or ``tombstone``/``heartbeat``): filtered, a tombstone, a heartbeat, or
dead-lettered before mapping.

Each consumed event gets exactly one *first* outcome in the batch that consumed it: ``applied``,
``skipped_*``, ``parked``, ``dead_lettered``, ``orphan_set_null`` (applied with the orphaned FK nulled)
or ``orphan_dropped``. A parked event is revisited in later batches; when it leaves the parked state it
is counted once under ``released`` **and** once under its final outcome (usually ``applied``). So for
every key, at all times::

    consumed == applied + skipped_* + dead_lettered + orphan_set_null + orphan_dropped
                + (parked - released)

where ``parked - released`` is the number of events parked right now (it must equal the rows in the
sink's parked table). ``Ledger.violation()`` checks that identity per key; ``Ledger.parked_now()``
gives the parked count per key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FINAL_OUTCOMES", "Ledger", "Outcome", "Violation"]


class Outcome(StrEnum):
    APPLIED = "applied"
    SKIPPED_STALE = "skipped_stale"  # position <= the row's stored version (redelivery, replay)
    SKIPPED_RESURRECT = "skipped_resurrect"  # upsert older than the row's delete marker
    SKIPPED_FILTERED = "skipped_filtered"  # no V2 change: unmapped table, filtered row, no-op update
    SKIPPED_TOMBSTONE = "skipped_tombstone"
    SKIPPED_HEARTBEAT = "skipped_heartbeat"
    PARKED = "parked"
    RELEASED = "released"  # left the parked state; also counted under its final outcome
    DEAD_LETTERED = "dead_lettered"
    ORPHAN_SET_NULL = "orphan_set_null"
    ORPHAN_DROPPED = "orphan_dropped"


FINAL_OUTCOMES = frozenset(o for o in Outcome if o not in (Outcome.PARKED, Outcome.RELEASED))

Key = tuple[str, str]  # (table, op)


@dataclass(frozen=True, slots=True)
class Violation:
    """The books do not balance for ``key``: ``consumed`` events but ``accounted`` outcomes."""

    table: str
    op: str
    consumed: int
    accounted: int

    def __str__(self) -> str:
        return (
            f"{self.table}/{self.op}: {self.consumed} events consumed but {self.accounted} accounted for "
            f"(applied + skipped + dead-lettered + orphaned + parked now)"
        )


class Ledger:
    """Counts per (table, op): events consumed and outcomes. Add ledgers with ``merge`` (one per batch
    into a running total); the metrics module turns a batch's ledger into counter increments."""

    def __init__(self) -> None:
        self.consumed: Counter[Key] = Counter()
        self.outcomes: Counter[tuple[str, str, Outcome]] = Counter()
        self.dead_letters: Counter[tuple[str, str]] = Counter()  # (table, reason)

    def consume(self, table: str, op: str, n: int = 1) -> None:
        self.consumed[(table, op)] += n

    def record(self, table: str, op: str, outcome: Outcome, n: int = 1, *, reason: str | None = None) -> None:
        """Count ``n`` events of ``(table, op)`` reaching ``outcome`` (a dead letter needs its reason)."""
        self.outcomes[(table, op, outcome)] += n
        if outcome is Outcome.DEAD_LETTERED:
            self.dead_letters[(table, reason or "UNKNOWN")] += n

    def settle(self, table: str, op: str, outcome: Outcome, *, reason: str | None = None) -> None:
        """A newly consumed event and its first outcome, in one call."""
        self.consume(table, op)
        self.record(table, op, outcome, reason=reason)

    def merge(self, other: Ledger) -> None:
        self.consumed.update(other.consumed)
        self.outcomes.update(other.outcomes)
        self.dead_letters.update(other.dead_letters)

    def keys(self) -> list[Key]:
        return sorted(set(self.consumed) | {(t, o) for t, o, _ in self.outcomes})

    def count(self, table: str, op: str, outcome: Outcome) -> int:
        return self.outcomes[(table, op, outcome)]

    def parked_now(self) -> dict[Key, int]:
        """Events parked at the moment, per key: ``parked - released`` (zero keys left out)."""
        out = {}
        for table, op in self.keys():
            n = self.count(table, op, Outcome.PARKED) - self.count(table, op, Outcome.RELEASED)
            if n:
                out[(table, op)] = n
        return out

    def accounted(self, table: str, op: str) -> int:
        final = sum(self.count(table, op, o) for o in FINAL_OUTCOMES)
        return final + self.count(table, op, Outcome.PARKED) - self.count(table, op, Outcome.RELEASED)

    def violations(self) -> list[Violation]:
        return [
            Violation(table, op, self.consumed[(table, op)], self.accounted(table, op))
            for table, op in self.keys()
            if self.consumed[(table, op)] != self.accounted(table, op)
        ]

    def violation(self) -> Violation | None:
        """The first key whose books do not balance, or None when every key balances."""
        found = self.violations()
        return found[0] if found else None

    def totals(self) -> dict[str, int]:
        """Outcome → count over all keys, plus ``consumed``: for ``status`` and reports."""
        out: dict[str, int] = {"consumed": sum(self.consumed.values())}
        for (_, _, outcome), n in self.outcomes.items():
            out[outcome.value] = out.get(outcome.value, 0) + n
        return out

    @classmethod
    def of(cls, ledgers: Iterable[Ledger]) -> Ledger:
        total = cls()
        for ledger in ledgers:
            total.merge(ledger)
        return total

    # ------------------------------------------------------------ persistence (the V2 ledger table)

    CONSUMED = "consumed"
    DEAD_LETTER_REASON = "dead_letter_reason"

    def entries(self) -> list[tuple[str, str, str, str, int]]:
        """Rows ``(table, op, outcome, reason, n)``: consumed counts, outcomes, and dead letters by reason
        (op ``*``, outcome ``dead_letter_reason``)."""
        rows = [(t, op, self.CONSUMED, "", n) for (t, op), n in sorted(self.consumed.items()) if n]
        rows += [(t, op, o.value, "", n) for (t, op, o), n in sorted(self.outcomes.items()) if n]
        rows += [
            (t, "*", self.DEAD_LETTER_REASON, r, n) for (t, r), n in sorted(self.dead_letters.items()) if n
        ]
        return rows

    @classmethod
    def from_entries(cls, rows: Iterable[tuple[str, str, str, str, int]]) -> Ledger:
        ledger = cls()
        for table, op, outcome, reason, n in rows:
            if outcome == cls.CONSUMED:
                ledger.consumed[(table, op)] += n
            elif outcome == cls.DEAD_LETTER_REASON:
                ledger.dead_letters[(table, reason)] += n
            else:
                ledger.outcomes[(table, op, Outcome(outcome))] += n
        return ledger
