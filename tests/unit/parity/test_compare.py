"""Calculation results are compared exactly; tolerances apply only to the columns that declare one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from replicator.parity.compare import compare_rows, values_equal

COLS = ("team", "deals", "volume")


def test_identical_results_pass() -> None:
    """Same columns, same rows: pass, nothing reported."""
    rows = [("a", 3, Decimal("10.50")), ("b", 1, Decimal("2.00"))]
    verdict = compare_rows(COLS, rows, COLS, list(rows))
    assert verdict.passed
    assert verdict.first_diff_row is None


def test_numbers_compare_as_decimals() -> None:
    """5 equals 5.00 (same number); 0.1 as float is not 0.1 as decimal; bool is not a number."""
    assert values_equal(5, Decimal("5.00"))
    assert not values_equal(0.1, Decimal("0.1"))
    assert values_equal(0.5, Decimal("0.5"))
    assert not values_equal(True, 1)
    assert not values_equal("1", 1)
    assert values_equal(None, None)
    assert not values_equal(None, 0)
    assert values_equal(date(2024, 1, 1), date(2024, 1, 1))


def test_a_difference_names_the_first_row_and_its_columns_but_no_value() -> None:
    """Row 1 differs in volume and deals: reported as row 1, columns deals and volume; values never shown."""
    v1 = [("a", 3, Decimal("10.50")), ("b", 1, Decimal("2.00")), ("c", 7, Decimal("99.99"))]
    v2 = [("a", 3, Decimal("10.50")), ("b", 2, Decimal("2.01")), ("c", 7, Decimal("99.98"))]
    verdict = compare_rows(COLS, v1, COLS, v2)
    assert not verdict.passed
    assert verdict.first_diff_row == 1
    assert verdict.diff_columns == ("deals", "volume")
    assert verdict.rows_differing == 2
    text = str(verdict.as_dict())
    assert "2.01" not in text and "99.98" not in text


def test_row_count_and_column_differences() -> None:
    """A missing row is reported at its index; different column names fail before any row."""
    rows = [("a", 1, Decimal(1)), ("b", 2, Decimal(2))]
    short = compare_rows(COLS, rows, COLS, rows[:1])
    assert not short.passed and short.first_diff_row == 1 and "row count" in (short.problem or "")
    renamed = compare_rows(COLS, rows, ("team", "deals", "amount"), rows)
    assert not renamed.passed and set(renamed.diff_columns) == {"volume", "amount"}


def test_tolerance_only_where_declared() -> None:
    """A float difference of 1e-9 passes with a 1e-6 tolerance on that column, fails without or beyond."""
    cols = ("city", "avg")
    v1 = [("x", 1.000000001)]
    v2 = [("x", 1.000000002)]
    assert not compare_rows(cols, v1, cols, v2).passed
    tolerated = compare_rows(cols, v1, cols, v2, {"avg": Decimal("1e-6")})
    assert tolerated.passed and tolerated.tolerated == ("avg",)
    assert not compare_rows(cols, [("x", 1.0)], cols, [("x", 1.1)], {"avg": Decimal("1e-6")}).passed
    assert not compare_rows(cols, [("x", 1.0)], cols, [("y", 1.0)], {"avg": Decimal("1")}).passed
    unknown = compare_rows(cols, v1, cols, v1, {"nope": Decimal(1)})
    assert not unknown.passed and "nope" in (unknown.problem or "")


@given(st.lists(st.tuples(st.text(max_size=5), st.integers(), st.decimals(allow_nan=False)), max_size=8))
def test_any_result_equals_itself(rows: list[tuple[str, int, Decimal]]) -> None:
    """Comparison is reflexive for any rows (no NaN)."""
    assert compare_rows(COLS, rows, COLS, list(rows)).passed
