"""Decode Debezium PostgreSQL change records (JSON converter, schemas disabled). Pure.

A record is one of: a row change (c/u/d/r), a tombstone (key, null value: follows a delete), or a
heartbeat. Every row change carries its source position, which orders changes of the same row:
the commit LSN of its transaction, then the change's own LSN inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from replicator.errors import TerminalError

# Debezium sends this in place of an unchanged TOASTed value when the old value is not in the WAL.
UNAVAILABLE_VALUE = "__debezium_unavailable_value"
# A decoded string can equal the placeholder only if the raw JSON holds it literally or via a \u escape:
# without either, no value needs checking (most records; the check per value showed in the profile).
_PLACEHOLDER = UNAVAILABLE_VALUE.encode()
_ESCAPE = b"\\u"


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot


_OPS: dict[str, Op] = {op.value: op for op in Op}
TRUNCATE_OP = "t"


class DecodeError(TerminalError):
    """The record is not a Debezium change this decoder understands. Never carries the payload."""

    def __init__(self, reason: str, *, topic: str | None = None) -> None:
        self.reason = reason
        self.topic = topic
        super().__init__(f"cannot decode record{f' from {topic}' if topic else ''}: {reason}")


class Position(NamedTuple):
    """Where a change sits in V1's commit order; compares as a tuple.

    ``commit_lsn`` is the LSN of the transaction's commit record when known (streaming), else the
    last commit LSN Debezium reports; ``lsn`` orders changes within the transaction. Snapshot reads
    (op r) all share the snapshot's position and are ordered below any streamed change after it.

    A named tuple: built once per change and compared many times per batch, and a tuple is built and
    compared in C (a frozen, ordered dataclass builds two tuples per comparison).
    """

    commit_lsn: int
    lsn: int


@dataclass(slots=True)  # one per change, not frozen: see replicator.pipeline
class RowChange:
    schema: str
    table: str
    op: Op
    key: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    position: Position
    tx_id: int | None
    commit_ts_us: int
    snapshot: bool
    unavailable: frozenset[str]


@dataclass(frozen=True, slots=True)
class Tombstone:
    key: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A change of the heartbeat table (or Debezium's own heartbeat record): proves liveness."""

    commit_ts_us: int
    lsn: int | None


@dataclass(frozen=True, slots=True)
class Truncate:
    """V1 emptied a table (``TRUNCATE``; the connector emits these with ``skipped.operations=none``)."""

    schema: str
    table: str
    position: Position
    commit_ts_us: int


Record = RowChange | Tombstone | Heartbeat | Truncate


def _loads(raw: bytes | None, what: str, topic: str | None) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise DecodeError(f"{what} is not valid JSON", topic=topic) from None


def _position(source: dict[str, Any], topic: str | None) -> Position:
    lsn = source.get("lsn")
    if not isinstance(lsn, int):
        raise DecodeError("source.lsn missing or not an integer", topic=topic)
    commit_lsn = lsn
    sequence = source.get("sequence")
    if isinstance(sequence, str):
        last_commit = _last_commit(sequence, topic)
        if last_commit is not None:
            commit_lsn = max(last_commit, 0)
    return Position(commit_lsn, lsn)


_NO_LAST_COMMIT = re.compile(r'\[null,(?:null|"\d+")\]')


def _last_commit(sequence: str, topic: str | None) -> int | None:
    """The first element of ``source.sequence``, ``["<last commit lsn>"|null, "<lsn>"]``."""
    if _NO_LAST_COMMIT.fullmatch(sequence):  # the snapshot's and most of the stream's: no JSON parse
        return None
    try:
        last_commit, _ = orjson.loads(sequence)
        return None if last_commit is None else int(last_commit)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        raise DecodeError("source.sequence is malformed", topic=topic) from None


def _strip_unavailable(row: dict[str, Any] | None) -> tuple[dict[str, Any] | None, frozenset[str]]:
    if row is None:
        return None, frozenset()
    missing = frozenset(k for k, v in row.items() if _is_unavailable(v))
    if not missing:
        return row, missing
    return {k: v for k, v in row.items() if k not in missing}, missing


def _is_unavailable(value: Any) -> bool:
    if value == UNAVAILABLE_VALUE:
        return True
    # Arrays of TOASTed values arrive as a one-element list holding the placeholder.
    return isinstance(value, list) and len(value) == 1 and value[0] == UNAVAILABLE_VALUE


def decode(
    key: bytes | None,
    value: bytes | None,
    *,
    topic: str | None = None,
    heartbeat_tables: frozenset[tuple[str, str]] = frozenset(),
) -> Record:
    """Decode one Kafka record. Raises DecodeError (terminal) for anything malformed."""
    key_obj = _loads(key, "key", topic)
    value_obj = _loads(value, "value", topic)
    if value_obj is None:
        if not isinstance(key_obj, dict):
            raise DecodeError("tombstone without an object key", topic=topic)
        return Tombstone(key=key_obj)
    if not isinstance(value_obj, dict):
        raise DecodeError("value is not a JSON object", topic=topic)
    if "op" not in value_obj and "ts_ms" in value_obj and len(value_obj) <= 2:
        return Heartbeat(commit_ts_us=int(value_obj["ts_ms"]) * 1000, lsn=None)
    toast = value is not None and (_PLACEHOLDER in value or _ESCAPE in value)
    return _change(key_obj, value_obj, topic, heartbeat_tables, toast=toast)


def _commit_ts_us(source: dict[str, Any], topic: str | None) -> int:
    ts_us = source.get("ts_us")
    if isinstance(ts_us, int):
        return ts_us
    ts_ms = source.get("ts_ms")
    if not isinstance(ts_ms, int):
        raise DecodeError("source.ts_us/ts_ms missing", topic=topic)
    return ts_ms * 1000


def _change(
    key_obj: Any,
    value_obj: dict[str, Any],
    topic: str | None,
    heartbeat_tables: frozenset[tuple[str, str]],
    *,
    toast: bool = True,
) -> Record:
    source = value_obj.get("source")
    if not isinstance(source, dict):
        raise DecodeError("envelope has no source block", topic=topic)
    raw_op = value_obj.get("op")
    op = _OPS.get(raw_op) if type(raw_op) is str else None
    if op is None and raw_op != TRUNCATE_OP:
        raise DecodeError("unknown op", topic=topic)
    schema, table = source.get("schema"), source.get("table")
    if not isinstance(schema, str) or not isinstance(table, str):
        raise DecodeError("source.schema/source.table missing", topic=topic)
    ts_us = _commit_ts_us(source, topic)
    position = _position(source, topic)
    if (schema, table) in heartbeat_tables:
        return Heartbeat(commit_ts_us=ts_us, lsn=position.lsn)
    if op is None:
        return Truncate(schema, table, position, ts_us)
    before, after = value_obj.get("before"), value_obj.get("after")
    for name, row in (("before", before), ("after", after)):
        if row is not None and not isinstance(row, dict):
            raise DecodeError(f"{name} is not an object", topic=topic)
    if op is Op.DELETE and before is None:
        raise DecodeError("delete without before", topic=topic)
    if op is not Op.DELETE and after is None:
        raise DecodeError(f"op {op.value} without after", topic=topic)
    if key_obj is not None and not isinstance(key_obj, dict):
        raise DecodeError("key is not a JSON object", topic=topic)
    unavailable: frozenset[str] = frozenset()
    if toast:
        after, unavailable = _strip_unavailable(after)
        before, _ = _strip_unavailable(before)
    return RowChange(
        schema=schema,
        table=table,
        op=op,
        key=key_obj or {},
        before=before,
        after=after,
        position=position,
        tx_id=source.get("txId") if isinstance(source.get("txId"), int) else None,
        commit_ts_us=ts_us,
        snapshot=source.get("snapshot") not in (None, "false", False),
        unavailable=unavailable,
    )
