"""Exact, tagged JSON for values and parked items, so a parked change survives restarts bit for bit. Pure.

Plain JSON types pass through (``None``, bool, int, str, float); anything JSON would blur carries a tag:
``{"$d": "1.50"}`` (Decimal), ``{"$ts": iso}`` (datetime, naive or aware), ``{"$date": iso}``,
``{"$time": iso}``, ``{"$td": [days, seconds, µs]}``, ``{"$uuid": text}``, ``{"$b": base64}`` (bytes),
``{"$obj": {...}}`` (a dict value), ``{"$inf": [text, is a date, has a zone]}`` (PostgreSQL's infinite
timestamps and dates, ``pipeline.infinity``). Lists stay lists.
"""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from replicator.mapping.engine import Delete, Upsert
from replicator.pipeline.envelope import Position
from replicator.pipeline.infinity import from_parts, parts
from replicator.pipeline.planner import Positioned

_INT64 = range(-(2**63), 2**63)


def encode_value(value: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per tagged type reads best
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return {"$int": str(value)}  # JSON integers beyond 64 bits are not portable
    if isinstance(value, float) and not math.isfinite(value):
        return {"$f": repr(value)}  # JSON has no Infinity/NaN; PostgreSQL floats do
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if (infinity := parts(value)) is not None:  # before datetime and date: it is one of them too
        return {"$inf": infinity}
    if isinstance(value, datetime):
        return {"$ts": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {"$obj": {str(k): encode_value(v) for k, v in value.items()}}
    raise TypeError(f"cannot encode a {type(value).__name__} value")


_DECODERS: dict[str, Any] = {
    "$int": int,
    "$f": float,
    "$d": Decimal,
    "$ts": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$td": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "$uuid": UUID,
    "$b": base64.b64decode,
    "$obj": lambda v: {k: decode_value(x) for k, x in v.items()},
    "$inf": from_parts,
}


def decode_value(value: Any) -> Any:
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        ((tag, inner),) = value.items()
        return _DECODERS[tag](inner)
    return value


def encode_item(item: Positioned) -> bytes:
    """A parked item as JSON bytes (stored in jsonb)."""
    change = item.change
    body: dict[str, Any] = {
        "table": change.table,
        "mapping": change.mapping,
        "key": encode_value(list(change.key)),
        "position": [item.position.commit_lsn, item.position.lsn],
        "source": [item.topic, item.partition, item.offset],
        "commit_ts_us": item.commit_ts_us,
    }
    if isinstance(change, Upsert):
        body["values"] = {k: encode_value(v) for k, v in change.values.items()}
        body["missing"] = sorted(change.missing)
    return orjson.dumps(body)


def decode_item(raw: bytes | str | dict[str, Any]) -> Positioned:
    body = orjson.loads(raw) if isinstance(raw, bytes | str) else raw
    key = tuple(decode_value(body["key"]))
    change: Upsert | Delete
    if "values" in body:
        change = Upsert(
            table=body["table"],
            mapping=body["mapping"],
            key=key,
            values={k: decode_value(v) for k, v in body["values"].items()},
            missing=frozenset(body["missing"]),
        )
    else:
        change = Delete(table=body["table"], mapping=body["mapping"], key=key)
    topic, partition, offset = body["source"]
    return Positioned(
        change=change,
        position=Position(*body["position"]),
        topic=topic,
        partition=partition,
        offset=offset,
        commit_ts_us=body["commit_ts_us"],
    )


def encode_headers(headers: tuple[tuple[str, bytes], ...]) -> str | None:
    """A record's headers as JSON ``[[name, base64 value], ...]``; None when it has none."""
    if not headers:
        return None
    return orjson.dumps([[name, base64.b64encode(value).decode()] for name, value in headers]).decode()


def decode_headers(raw: list[list[str]] | str | None) -> tuple[tuple[str, bytes], ...]:
    if raw is None:
        return ()
    pairs = orjson.loads(raw) if isinstance(raw, str) else raw
    return tuple((str(name), base64.b64decode(value)) for name, value in pairs)
