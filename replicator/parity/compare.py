"""Exact comparison of two calculation results. Pure: plain rows in, a verdict out.

Rules (the same for every calculation):

* Columns must have the same names in the same order.
* Rows are compared by position: both queries order their rows totally (``ORDER BY`` in the YAML).
* Numbers (``int``, ``Decimal``, ``float``) are compared as ``Decimal`` — numerically exact, so ``5`` equals
  ``Decimal("5.00")`` but ``0.1`` (float) does not equal ``Decimal("0.1")``. Only a column with a declared
  ``tolerance`` may differ, by at most that absolute amount. ``bool`` is not a number here.
* Everything else (text, dates, timestamps, jsonb, arrays) must be equal and of the same kind.

A verdict names the first differing row index and that row's differing columns, plus how many rows
differ — never a value: calculation rows can carry names of people and offices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

Row = Sequence[object]


@dataclass(frozen=True, slots=True)
class RowsVerdict:
    """The outcome of comparing V1's rows with V2's. ``passed`` when nothing differs."""

    rows_v1: int
    rows_v2: int
    columns_v1: tuple[str, ...]
    columns_v2: tuple[str, ...]
    first_diff_row: int | None = None
    diff_columns: tuple[str, ...] = ()
    rows_differing: int = 0
    problem: str | None = None
    tolerated: tuple[str, ...] = field(default=())  # columns where a difference within tolerance was seen

    @property
    def passed(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "rows_v1": self.rows_v1,
            "rows_v2": self.rows_v2,
            "first_diff_row": self.first_diff_row,
            "diff_columns": list(self.diff_columns),
            "rows_differing": self.rows_differing,
            "problem": self.problem,
            "tolerated_columns": list(self.tolerated),
        }


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(value) if math.isfinite(value) else Decimal(str(value))  # exact binary value
    return None


def values_equal(a: object, b: object, tolerance: Decimal | None = None) -> bool:  # noqa: PLR0911 - a rule each
    """Whether two cell values are equal under the rules above (``tolerance``: absolute, or exact)."""
    if a is None or b is None:
        return a is None and b is None
    na, nb = _number(a), _number(b)
    if na is not None or nb is not None:
        if na is None or nb is None:
            return False
        if na.is_nan() or nb.is_nan():
            return na.is_nan() and nb.is_nan()
        if na.is_infinite() or nb.is_infinite():
            return na == nb
        if tolerance is None:
            return na == nb
        try:
            return abs(na - nb) <= tolerance
        except InvalidOperation:  # pragma: no cover - finite decimals always subtract
            return False
    if type(a) is not type(b) and not (isinstance(a, type(b)) or isinstance(b, type(a))):
        return False
    return a == b


def compare_rows(  # noqa: PLR0912 - the comparison rules read best in one place
    columns_v1: Sequence[str],
    rows_v1: Sequence[Row],
    columns_v2: Sequence[str],
    rows_v2: Sequence[Row],
    tolerance: Mapping[str, Decimal] | None = None,
) -> RowsVerdict:
    """Compare two ordered results column by column, row by row."""
    tolerance = tolerance or {}

    def verdict(**outcome: Any) -> RowsVerdict:
        return RowsVerdict(len(rows_v1), len(rows_v2), tuple(columns_v1), tuple(columns_v2), **outcome)

    if tuple(columns_v1) != tuple(columns_v2):
        only_v1 = [c for c in columns_v1 if c not in columns_v2]
        only_v2 = [c for c in columns_v2 if c not in columns_v1]
        detail = f"V1 only: {', '.join(only_v1) or '-'}; V2 only: {', '.join(only_v2) or '-'}"
        if not only_v1 and not only_v2:
            detail = "same columns in a different order"
        return verdict(diff_columns=tuple(only_v1 + only_v2), problem=f"columns differ ({detail})")
    unknown = sorted(set(tolerance) - set(columns_v1))
    if unknown:
        return verdict(problem=f"tolerance declared for columns not in the result: {unknown}")
    first: int | None = None
    first_columns: tuple[str, ...] = ()
    differing = 0
    tolerated: set[str] = set()
    for index, (r1, r2) in enumerate(zip(rows_v1, rows_v2, strict=False)):
        bad = []
        for column, a, b in zip(columns_v1, r1, r2, strict=True):
            if values_equal(a, b):
                continue
            limit = tolerance.get(column)
            if limit is not None and values_equal(a, b, limit):
                tolerated.add(column)
                continue
            bad.append(column)
        if bad:
            differing += 1
            if first is None:
                first, first_columns = index, tuple(bad)
    problem = None
    if len(rows_v1) != len(rows_v2):
        common = min(len(rows_v1), len(rows_v2))
        if first is None:
            first = common
        problem = f"row count differs (V1 {len(rows_v1)}, V2 {len(rows_v2)})"
        differing += abs(len(rows_v1) - len(rows_v2))
    if differing and problem is None:
        problem = f"{differing} row(s) differ; first at row {first} in {', '.join(first_columns)}"
    elif problem is not None and first_columns:
        problem += f"; first differing row {first} in {', '.join(first_columns)}"
    return verdict(
        first_diff_row=first,
        diff_columns=first_columns,
        rows_differing=differing,
        problem=problem,
        tolerated=tuple(sorted(tolerated)),
    )
