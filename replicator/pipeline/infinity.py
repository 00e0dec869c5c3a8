"""PostgreSQL's infinite timestamps and dates as Python values. Pure.

PostgreSQL's ``timestamp``, ``timestamptz`` and ``date`` hold ``infinity`` and ``-infinity`` (a
validity that never ends, say); Python's ``datetime`` and ``date`` have no such value. Here they are
instances of two subclasses at the ends of Python's range: code that handles datetimes keeps working on
them (a mapping copies them, ``replace(tzinfo=…)`` keeps the subclass), and everything that writes or
compares a value tells them apart from a real 9999-12-31 by their type (``infinite``): psycopg writes
them back as ``infinity`` (``replicator.pgtypes``), keys and verification tokens name them as infinite,
the Debezium encoder sends Debezium's own constants for them.

What Debezium 3.1.3 sends for them (read off the pinned connector): ``timestamptz`` as the strings
``infinity``/``-infinity``; ``timestamp`` as ±9223372036825200000 µs (−9223372036832400000 for the
negative one; in milliseconds for a precision of 3 or less); ``date`` as the day counts −622191234
(infinity) and −625821272 (−infinity) in a snapshot and in arrays, but −2147472692 and −2147472691 in a
streamed scalar (PostgreSQL's own ±2^31 days from 2000, shifted to 1970 with an int overflow): all far
outside PostgreSQL's date range, so no real date is taken for one. Later Debezium releases send
``Long.MAX_VALUE``/``Long.MIN_VALUE`` for timestamps: every spelling is read; the snapshot's is written.

One more value lies beyond Python's range: a ``time`` of ``24:00:00`` (PostgreSQL's end of day; Python's
``time`` stops at 23:59:59.999999, and Debezium sends 86,400,000,000 µs). It is ``END_OF_DAY``, a string
PostgreSQL reads back into the time column; taken for midnight it would silently change the value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

__all__ = [
    "DAY_US",
    "DEBEZIUM_DATE",
    "DEBEZIUM_TIMESTAMP",
    "END_OF_DAY",
    "TEMPORAL_TYPES",
    "EndOfDay",
    "InfiniteDate",
    "InfiniteDatetime",
    "array_literal",
    "beyond_python",
    "from_parts",
    "infinite",
    "infinite_date",
    "infinite_timestamp",
    "mixes_infinity",
    "parts",
]


class InfiniteDatetime(datetime):
    """``infinity`` (at ``datetime.max``) or ``-infinity`` (at ``datetime.min``)."""

    __slots__ = ()


class InfiniteDate(date):
    """``infinity`` (at ``date.max``) or ``-infinity`` (at ``date.min``)."""

    __slots__ = ()


class EndOfDay(str):
    """A ``time`` of ``24:00:00`` (see the module docstring)."""

    __slots__ = ()


END_OF_DAY = EndOfDay("24:00:00")
TEMPORAL_TYPES = frozenset({"date", "time", "timestamp", "timestamptz"})
"""The column types (``CatalogColumn.base_type``) whose values may lie beyond Python's range."""
DAY_US = 86_400_000_000
"""Microseconds in a day: Debezium's value for ``24:00:00``."""

_TS = {
    (True, False): InfiniteDatetime(9999, 12, 31, 23, 59, 59, 999999),
    (False, False): InfiniteDatetime(1, 1, 1),
    (True, True): InfiniteDatetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    (False, True): InfiniteDatetime(1, 1, 1, tzinfo=UTC),
}
_DATE = {True: InfiniteDate(9999, 12, 31), False: InfiniteDate(1, 1, 1)}

_LONG_MAX, _LONG_MIN = 2**63 - 1, -(2**63)
DEBEZIUM_TIMESTAMP: dict[int, dict[int, bool]] = {
    # microseconds per unit → the unit count Debezium sends → positive?
    1: {9223372036825200000: True, -9223372036832400000: False, _LONG_MAX: True, _LONG_MIN: False},
    1000: {9223372036825200: True, -9223372036832400: False, _LONG_MAX: True, _LONG_MIN: False},
}
DEBEZIUM_DATE: dict[int, bool] = {-622191234: True, -625821272: False, -2147472692: True, -2147472691: False}


def infinite_timestamp(positive: bool, *, aware: bool) -> InfiniteDatetime:
    return _TS[(positive, aware)]


def infinite_date(positive: bool) -> InfiniteDate:
    return _DATE[positive]


def infinite(value: object) -> str | None:
    """``"infinity"`` or ``"-infinity"`` for an infinite timestamp or date, else None."""
    kind = type(value)
    if kind is InfiniteDatetime or kind is InfiniteDate:
        return "infinity" if value.year == 9999 else "-infinity"  # type: ignore[attr-defined]
    return None


def parts(value: object) -> list[object] | None:
    """An infinite value as JSON-able parts (``[text, is a date, has a zone]``) for stores that keep
    values as tagged JSON (parked items, verification state); None for any other value."""
    text = infinite(value)
    if text is None:
        return None
    return [text, type(value) is InfiniteDate, getattr(value, "tzinfo", None) is not None]


def from_parts(data: list[object]) -> InfiniteDatetime | InfiniteDate:
    text, is_date, aware = data
    if is_date:
        return infinite_date(text == "infinity")
    return infinite_timestamp(text == "infinity", aware=bool(aware))


def beyond_python(value: object) -> bool:
    """An infinite timestamp or date, or ``END_OF_DAY``: a value psycopg cannot dump in a list beside
    ordinary ones."""
    return infinite(value) is not None or type(value) is EndOfDay


def _element_text(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return array_literal(value)
    if type(value) is EndOfDay:
        return str(value)
    text = infinite(value)
    return text if text is not None else value.isoformat()  # type: ignore[attr-defined]


def array_literal(values: list[object]) -> str:
    """A date, time or timestamp array as PostgreSQL's array text (``{infinity,2024-01-02,NULL}``):
    psycopg will not dump a list that mixes an infinite value with finite ones (two Python types),
    PostgreSQL reads this text into the array column as it is. Elements are ISO dates, times and
    timestamps (no quoting needed: no spaces, commas or braces), the infinities or ``24:00:00``."""
    return "{" + ",".join(_element_text(v) for v in values) + "}"


def mixes_infinity(value: object) -> bool:
    """A list (of any depth) holding an infinite value beside another kind of value."""
    if not isinstance(value, list):
        return False
    flat: list[object] = []
    stack = [value]
    while stack:
        for item in stack.pop():
            (stack if isinstance(item, list) else flat).append(item)
    kinds = {type(v) for v in flat if v is not None}
    return len(kinds) > 1 and any(beyond_python(v) for v in flat)
