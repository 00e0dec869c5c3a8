"""A batch's row ids and positions as one text parameter per column, split by PostgreSQL. Pure.

The bookkeeping statements (row versions, parked rows) pass thousands of values per batch. As
psycopg's binary arrays (``%b::text[]``) each value costs about 0.13 µs of Python in the worker
(``ListBinaryDumper`` walks the list element by element). Joined into one text and split by
``string_to_array`` on the server (the forms below; ``statement`` puts them in), 4,000 row-id
texts cost the worker 64 µs instead of 503 µs, and the statement's wall time went 872 → 387 µs:
PostgreSQL splits a text faster than it decodes a binary array (``docs/benchmarks.md``, session 11).

Only for values that cannot hold the separator: row ids (a V2 table name, a validated identifier,
and ``canonical_key``'s JSON, where a line break is always escaped) and integers. ``texts`` checks it
anyway, in C, and refuses rather than split a value in two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["BOOLS", "INTS", "TEXTS", "bools", "ints", "statement", "texts"]

TEXTS = "string_to_array(%s, chr(10))"
INTS = "string_to_array(%s, ',')::int8[]"
BOOLS = "string_to_array(%s, ',')::bool[]"


def statement(text: str) -> str:
    """``text`` with each ``<texts>``, ``<ints>`` and ``<bools>`` replaced by its form above: one
    parameter each, passed as ``texts(…)``, ``ints(…)``, ``bools(…)``."""
    return text.replace("<texts>", TEXTS).replace("<ints>", INTS).replace("<bools>", BOOLS)


def texts(values: Sequence[str]) -> str:
    """The parameter for ``TEXTS``: the values, one per line."""
    if not values:
        return ""
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1 or joined == "":
        bad = next((v for v in values if "\n" in v or v == ""), "")
        raise ValueError(f"cannot pass {bad!r} as a line of a text list: it is empty or holds a line break")
    return joined


def ints(values: Iterable[int]) -> str:
    """The parameter for ``INTS``."""
    return ",".join(map(str, values))


def bools(values: Iterable[bool]) -> str:
    """The parameter for ``BOOLS`` (PostgreSQL reads ``True``/``False``)."""
    return ",".join(map(str, values))
