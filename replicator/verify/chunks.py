"""Canonical values, row digests, order-independent chunk checksums and key-range chunk planning. Pure.

A V2 row is compared as a set of *tokens*, one per compared column: the canonical text of its value,
equal exactly when PostgreSQL sees equal values (numeric scale ignored, one instant in any time zone,
a UUID and its text), with jsonb parsed exactly (numbers as ``Decimal``, object keys sorted) so that
V1's JSON text and V2's stored jsonb agree whenever PostgreSQL would say they are equal.

A row's digest is the first 128 bits of BLAKE2b over its tokens (in column-name order); a chunk's
checksum is the row count and the *sum* of its row digests modulo 2**128. Addition is commutative, so
neither side has to sort; unlike XOR, a duplicated row does not cancel itself out.

Chunks are half-open key ranges ``lower < key <= upper`` (``None``: unbounded) between boundary keys
sampled every N rows from both sides, so no chunk holds much more than N rows of either side even when
one side is missing most of a table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from replicator.pipeline.fk import canonical_key
from replicator.pipeline.infinity import from_parts, parts

__all__ = [
    "Checksum",
    "Chunk",
    "Key",
    "Tokens",
    "checksum",
    "decode_key",
    "encode_key",
    "exact_json",
    "merge_boundaries",
    "plan_chunks",
    "row_digest",
    "token",
    "tokens",
]

Key = tuple[object, ...]
Tokens = dict[str, str]
"""Column → canonical token of its value: one row as it is compared."""

_MASK = (1 << 128) - 1


# ---------------------------------------------------------------- canonical values


def exact_json(text: str | bytes) -> Any:
    """JSON with every number as ``Decimal`` (what jsonb stores), never a binary float."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _json_tree(value: object) -> object:  # noqa: PLR0911 - one branch per JSON type reads best
    if value is None:
        return None
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return ["n", str(number.normalize())]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, Mapping):
        return ["o", [[str(k), _json_tree(value[k])] for k in sorted(value)]]
    if isinstance(value, list | tuple):
        return ["a", [_json_tree(v) for v in value]]
    return ["?", type(value).__name__, str(value)]


def token(value: object, *, json_column: bool = False) -> str:
    """The canonical text of one column value (``json_column``: the V2 column is json/jsonb)."""
    if json_column and value is not None:
        obj = getattr(value, "obj", value)  # psycopg's Jsonb wrapper
        if isinstance(obj, str | bytes):
            try:
                obj = exact_json(obj)
            except ValueError:
                return "J!" + (obj if isinstance(obj, str) else obj.decode(errors="replace"))
        return "J" + orjson.dumps(_json_tree(obj)).decode()
    try:
        return canonical_key([value])
    except TypeError:  # a type no key can hold (range, inet, ...): its text, tagged with the type
        return orjson.dumps([type(value).__name__, str(value)]).decode()


def tokens(values: Mapping[str, object], columns: Sequence[str], json_columns: frozenset[str]) -> Tokens:
    """The compared columns of one row as tokens (a column absent from ``values`` reads as NULL)."""
    return {c: token(values.get(c), json_column=c in json_columns) for c in columns}


def row_digest(row: Tokens) -> int:
    """128-bit digest of one row's tokens, independent of the dict's order."""
    payload = orjson.dumps([[c, row[c]] for c in sorted(row)])
    return int.from_bytes(hashlib.blake2b(payload, digest_size=16).digest(), "big")


@dataclass(frozen=True, slots=True)
class Checksum:
    """Row count and the sum of row digests modulo 2**128: equal for equal row sets, in any order."""

    rows: int
    digest: int

    @property
    def hex(self) -> str:
        return f"{self.digest:032x}"


def checksum(rows: Iterable[Tokens]) -> Checksum:
    count = total = 0
    for row in rows:
        count += 1
        total = (total + row_digest(row)) & _MASK
    return Checksum(count, total)


# ---------------------------------------------------------------- chunks


@dataclass(frozen=True, slots=True)
class Chunk:
    """Keys ``lower < key <= upper`` of one table; ``None`` leaves that side open."""

    index: int
    lower: Key | None
    upper: Key | None

    def contains(self, key: Key) -> bool:
        return (self.lower is None or _sort_key(key) > _sort_key(self.lower)) and (
            self.upper is None or _sort_key(key) <= _sort_key(self.upper)
        )


def _sort_key(key: Sequence[object]) -> tuple[object, ...]:
    # uuid.UUID orders like PostgreSQL's uuid; text keys are compared under COLLATE "C" (code points,
    # as Python orders str). Other key types order natively.
    return tuple(key)


def merge_boundaries(*samples: Iterable[Key]) -> list[Key]:
    """The sorted union of boundary keys sampled from several sides (each sample: every N-th key)."""
    return sorted({tuple(k) for sample in samples for k in sample}, key=_sort_key)


def plan_chunks(boundaries: Sequence[Key]) -> list[Chunk]:
    """Chunks covering the whole key space: ``(-inf, b0], (b0, b1], …, (bn, +inf)``."""
    edges: list[Key | None] = [None, *boundaries, None]
    return [Chunk(i, edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


# ---------------------------------------------------------------- keys in the resume state


def _encode(value: object) -> list[object]:  # noqa: PLR0911 - one branch per key type
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, bytes):
        return ["x", value.hex()]
    if (infinity := parts(value)) is not None:
        return ["inf", infinity]
    if isinstance(value, dt.datetime):
        return ["ts", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    raise TypeError(f"cannot persist a chunk boundary of type {type(value).__name__}")


_DECODE: dict[str, Any] = {
    "b": bool,
    "i": int,
    "n": Decimal,
    "s": str,
    "u": uuid.UUID,
    "x": bytes.fromhex,
    "ts": dt.datetime.fromisoformat,
    "d": dt.date.fromisoformat,
    "inf": from_parts,
}


def encode_key(key: Key | None) -> list[list[object]] | None:
    """A chunk boundary as JSON-able tagged values (reversible, unlike ``canonical_key``)."""
    return None if key is None else [_encode(v) for v in key]


def decode_key(data: Sequence[Sequence[Any]] | None) -> Key | None:
    if data is None:
        return None
    return tuple(None if item[0] == "null" else _DECODE[item[0]](item[1]) for item in data)
