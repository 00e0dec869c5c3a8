"""The books of guarantee 1: consumed events equal stated outcomes plus what is parked now."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from replicator.pipeline.accounting import FINAL_OUTCOMES, Ledger, Outcome


def test_balanced_books_have_no_violation() -> None:
    """Every consumed event with one outcome: no violation."""
    ledger = Ledger()
    ledger.settle("users", "upsert", Outcome.APPLIED)
    ledger.settle("users", "upsert", Outcome.SKIPPED_STALE)
    ledger.settle("users", "c", Outcome.SKIPPED_FILTERED)
    ledger.settle("users", "upsert", Outcome.DEAD_LETTERED, reason="ORPHAN_FK")
    assert ledger.violation() is None
    assert ledger.dead_letters[("users", "ORPHAN_FK")] == 1


def test_a_consumed_event_without_outcome_is_a_violation() -> None:
    """An event consumed but never accounted for is reported with its table, op and counts."""
    ledger = Ledger()
    ledger.settle("users", "upsert", Outcome.APPLIED)
    ledger.consume("users", "upsert")
    violation = ledger.violation()
    assert violation is not None
    assert (violation.table, violation.op, violation.consumed, violation.accounted) == (
        "users",
        "upsert",
        2,
        1,
    )
    assert "users/upsert" in str(violation)


def test_released_events_balance_across_batches() -> None:
    """Parked in one batch, released and applied in a later one: the running books balance at each step."""
    first, second = Ledger(), Ledger()
    first.settle("offices", "upsert", Outcome.PARKED)
    total = Ledger.of([first])
    assert total.violation() is None and total.parked_now() == {("offices", "upsert"): 1}
    second.record("offices", "upsert", Outcome.RELEASED)
    second.record("offices", "upsert", Outcome.APPLIED)
    total.merge(second)
    assert total.violation() is None and total.parked_now() == {}
    assert total.totals() == {"consumed": 1, "parked": 1, "released": 1, "applied": 1}


@given(st.lists(st.tuples(st.sampled_from(sorted(FINAL_OUTCOMES)), st.booleans()), max_size=40))
def test_books_balance_for_any_mix_of_outcomes(events: list[tuple[Outcome, bool]]) -> None:
    """Any sequence of events, final at once or parked then released, keeps the books balanced."""
    books = Ledger()
    for outcome, parked_first in events:
        if parked_first:
            books.settle("t", "upsert", Outcome.PARKED)
            assert books.violation() is None
            books.record("t", "upsert", Outcome.RELEASED)
            books.record("t", "upsert", outcome)
        else:
            books.settle("t", "upsert", outcome)
        assert books.violation() is None
    assert sum(books.consumed.values()) == len(events)
