"""Python values → the JSON Debezium would have sent for them: the inverse of ``values.RowDecoder``. Pure.

The initial load (``replicator.load``) reads V1 rows itself instead of taking them from Debezium's
snapshot. It still hands the pipeline ordinary Debezium change records, so that everything after the
Kafka record (decode, mapping, FK resolution, parking, dead letters, replay) is the one code path the
stream uses, and a dead-lettered row of the load can be replayed like any other. ``decode(encode(v))
== v`` for every type in the table of ``values``; the unit tests hold both directions to that.

Values arrive as psycopg reads them, with the text family (and json) selected as text — see
``text_columns`` — so a column is either a typed Python value or already its Debezium string.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from replicator.mapping.catalog import CatalogColumn, CatalogTable
from replicator.pipeline.infinity import (
    DAY_US,
    DEBEZIUM_DATE,
    DEBEZIUM_TIMESTAMP,
    EndOfDay,
    InfiniteDate,
    InfiniteDatetime,
    infinite,
)
from replicator.pipeline.values import EPOCH, EPOCH_DATE, decodes_as_text, time_unit_us

_DEBEZIUM_DATE = {positive: days for days, positive in reversed(DEBEZIUM_DATE.items())}  # the first

Encoder = Callable[[Any], Any]

__all__ = ["RowEncoder", "column_encoder", "text_columns"]


def _same(value: Any) -> Any:
    return value


def _numeric(value: Decimal | int) -> str:
    # Debezium's string mode writes BigDecimal.toPlainString(): never an exponent; ±Infinity as its
    # own constants (``values._numeric`` reads them back).
    if isinstance(value, Decimal) and value.is_infinite():
        return "NEGATIVE_INFINITY" if value < 0 else "POSITIVE_INFINITY"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _date(value: date) -> int:
    if type(value) is InfiniteDate:
        return _DEBEZIUM_DATE[infinite(value) == "infinity"]
    return (value - EPOCH_DATE).days


def _micros_of_day(value: time | str) -> int:
    if type(value) is EndOfDay:
        return DAY_US
    assert isinstance(value, time)
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _bits(value: str) -> bool | str:
    """``bit(n)`` as Debezium sends it: bit(1) a boolean, longer ones little-endian bytes (base64)."""
    if len(value) == 1:
        return value == "1"
    number = int(value, 2) if value else 0
    return base64.b64encode(number.to_bytes((len(value) + 7) // 8, "little")).decode("ascii")


def _point(value: str) -> dict[str, object]:
    """PostgreSQL's ``(x,y)`` → Debezium's point struct."""
    x, y = (float(part) for part in value.strip("()").split(","))
    wkb = struct.pack("<BIdd", 1, 1, x, y)
    return {"x": x, "y": y, "wkb": base64.b64encode(wkb).decode("ascii"), "srid": None}


def _timestamp_micros(value: datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _scaled(encode: Callable[[Any], int], unit_us: int) -> Encoder:
    if unit_us == 1:
        return encode
    return lambda value: encode(value) // unit_us


def _timestamp(unit_us: int) -> Encoder:
    units = _scaled(_timestamp_micros, unit_us)
    constants = {positive: n for n, positive in reversed(DEBEZIUM_TIMESTAMP[unit_us].items())}

    def encode(value: datetime) -> int:
        if type(value) is InfiniteDatetime:  # the constant Debezium sends (its first spelling)
            return constants[infinite(value) == "infinity"]
        return int(units(value))

    return encode


def _timestamptz(value: datetime) -> str:
    text = infinite(value)
    if text is not None:
        return text
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _uuid(value: UUID | str) -> str:
    return str(value)


def _bytea(value: bytes | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


_BY_TYPE: Mapping[str, Encoder] = {
    **dict.fromkeys(("numeric", "money"), _numeric),
    **dict.fromkeys(("float4", "float8"), _float),
    "date": _date,
    "timestamptz": _timestamptz,
    "uuid": _uuid,
    "bytea": _bytea,
    "bit": _bits,
    "point": _point,
}
_BY_PRECISION: Mapping[str, Callable[[Any], int]] = {"time": _micros_of_day, "timestamp": _timestamp_micros}


def _scalar_encoder(column: CatalogColumn) -> Encoder:
    if decodes_as_text(column):
        return _same  # selected as text: already Debezium's string form
    if column.base_type == "timestamp":
        return _timestamp(time_unit_us(column))
    by_precision = _BY_PRECISION.get(column.base_type)
    if by_precision is not None:
        return _scaled(by_precision, time_unit_us(column))
    return _BY_TYPE.get(column.base_type, _same)


def column_encoder(column: CatalogColumn) -> Encoder:
    scalar = _scalar_encoder(column)
    if not column.is_array or scalar is _same:
        return scalar
    return lambda values: [None if v is None else scalar(v) for v in values]


def text_columns(table: CatalogTable) -> frozenset[str]:
    """Columns to read as text so they arrive as Debezium sends them (text family, json, enums, …)."""
    return frozenset(c.name for c in table.columns if decodes_as_text(c))


class RowEncoder:
    """Encodes rows of one V1 table; ``None`` stays JSON null."""

    def __init__(self, table: CatalogTable) -> None:
        self.table = table.name
        self._encoders = {c.name: column_encoder(c) for c in table.columns}

    def encode(self, row: Mapping[str, Any]) -> dict[str, Any]:
        encoders = self._encoders
        return {name: None if value is None else encoders[name](value) for name, value in row.items()}
