"""Debezium JSON values → exact Python values, by the V1 column's type. Pure.

The connector sends JSON without schemas, so the type comes from the V1 catalog:

| PostgreSQL            | Debezium JSON (our connector settings)        | Python                    |
|-----------------------|-----------------------------------------------|---------------------------|
| int2/int4/int8        | number                                        | int                       |
| numeric, money        | string (decimal.handling.mode=string)         | Decimal (exact)           |
| float4/float8         | number, or "NaN"/"Infinity" strings           | float                     |
| date                  | days since epoch                              | date                      |
| time(p)               | ms (p ≤ 3) or µs since midnight (adaptive)    | time                      |
| timestamp(p)          | epoch ms (p ≤ 3) or µs (adaptive)             | naive datetime            |
| timestamptz           | ISO-8601 string in UTC                        | aware datetime            |
| ±infinity of all three| Debezium's constants (``pipeline.infinity``)  | InfiniteDatetime/-Date    |
| uuid                  | string                                        | UUID                      |
| bytea                 | base64 string (binary.handling.mode=base64)   | bytes                     |
| json/jsonb            | JSON text                                     | str (JSON text, exact)    |
| interval, timetz, …   | string                                        | str (PostgreSQL parses)   |
| arrays                | JSON array                                    | list of the element type  |

A numeric's NaN comes as ``NaN`` and its ±Infinity (PostgreSQL 14 and later) as ``POSITIVE_INFINITY`` /
``NEGATIVE_INFINITY``. A numeric array holding any of them comes as null: Debezium's array converter
fails on them (logging "Failed to properly convert data value" in Connect's log), so no worker can
tell it from a real null; ``mapping check`` warns about such columns, and ``verify`` / ``repair
missing`` find and fix the rows.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from replicator.errors import TerminalError
from replicator.mapping.catalog import CatalogColumn, CatalogTable
from replicator.pipeline.infinity import (
    DAY_US,
    DEBEZIUM_DATE,
    DEBEZIUM_TIMESTAMP,
    END_OF_DAY,
    infinite_date,
    infinite_timestamp,
)

Decoder = Callable[[Any], Any]

EPOCH = datetime(1970, 1, 1)  # naive on purpose: `timestamp` carries no zone
EPOCH_DATE = date(1970, 1, 1)
_PRECISION = re.compile(r"\((\d+)\)")


class ValueDecodeError(TerminalError):
    """A value does not fit its V1 column's type. Names the column and the type, never the value."""

    def __init__(self, table: str, column: str, type_name: str, found: str) -> None:
        self.table, self.column, self.type_name, self.found = table, column, type_name, found
        super().__init__(f"{table}.{column}: expected a Debezium {type_name} value, found {found}")


class SchemaMismatchError(TerminalError):
    """A change names a column the V1 catalog does not have (V1's schema changed)."""

    def __init__(self, table: str, columns: frozenset[str]) -> None:
        self.table, self.columns = table, columns
        super().__init__(f"{table}: columns not in the V1 catalog: {', '.join(sorted(columns))}")


def precision(type_name: str, default: int = 6) -> int:
    """The fractional-second digits of ``timestamp(p)``/``time(p)`` (6 when not given)."""
    match = _PRECISION.search(type_name)
    return int(match.group(1)) if match else default


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


_NUMERIC_SPECIAL = {"POSITIVE_INFINITY": Decimal("Infinity"), "NEGATIVE_INFINITY": Decimal("-Infinity")}
"""Debezium's spelling of numeric ±Infinity (PostgreSQL 14 and later) under decimal.handling.mode=string;
NaN comes as ``NaN``, which Decimal reads."""


def _numeric(value: Any) -> Decimal:
    if isinstance(value, str):
        return _NUMERIC_SPECIAL.get(value) or Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError


def _float(value: Any) -> float:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return float(value)
    raise TypeError


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError


def _date(value: Any) -> date:
    days = _int(value)
    positive = DEBEZIUM_DATE.get(days)
    if positive is not None:
        return infinite_date(positive)
    return EPOCH_DATE + timedelta(days=days)


def _time(unit_us: int) -> Decoder:
    def decode(value: Any) -> time | str:
        micros = _int(value) * unit_us
        if micros == DAY_US:
            return END_OF_DAY
        if not 0 <= micros < DAY_US:
            raise ValueError
        seconds, micro = divmod(micros, 1_000_000)
        hours, rest = divmod(seconds, 3600)
        return time(hours, rest // 60, rest % 60, micro)

    return decode


def _bits(width: int) -> Decoder:
    """``bit(n)``: Debezium sends bit(1) as a boolean and longer ones as little-endian bytes (base64); the
    width comes from the column's type, so leading zeros survive."""

    def decode(value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        number = int.from_bytes(base64.b64decode(_str(value), validate=True), "little")
        if number >> width:
            raise ValueError
        return format(number, f"0{width}b")

    return decode


def _varbit(value: Any) -> str:
    """A ``varbit``'s length is in Debezium's schema, which this connector does not send: only the
    empty one is certain; any other is refused (a dead letter) rather than guessed."""
    if value == "":
        return ""
    raise TypeError


def _point(value: Any) -> str:
    """``point``: Debezium's struct (x, y and the WKB of both) → PostgreSQL's ``(x,y)``, from the WKB's
    doubles when present (exact), else from x and y."""
    if not isinstance(value, dict):
        raise TypeError
    wkb = value.get("wkb")
    if isinstance(wkb, str):
        data = base64.b64decode(wkb, validate=True)
        x, y = struct.unpack(("<" if data[0] == 1 else ">") + "dd", data[5:21])
    else:
        x, y = _float(value["x"]), _float(value["y"])
    return f"({x!r},{y!r})"


def _timestamp(unit_us: int) -> Decoder:
    infinities = DEBEZIUM_TIMESTAMP[unit_us]

    def decode(value: Any) -> datetime:
        units = _int(value)
        positive = infinities.get(units)
        if positive is not None:
            return infinite_timestamp(positive, aware=False)
        return EPOCH + timedelta(microseconds=units * unit_us)

    return decode


_INFINITE_TEXT = {"infinity": True, "-infinity": False}


def _timestamptz(value: Any) -> datetime:
    text = _str(value)
    positive = _INFINITE_TEXT.get(text)
    if positive is not None:
        return infinite_timestamp(positive, aware=True)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _uuid(value: Any) -> UUID:
    return UUID(_str(value))


def _bytea(value: Any) -> bytes:
    return base64.b64decode(_str(value), validate=True)


def _json_text(value: Any) -> str:
    return _str(value)


_BY_TYPE: Mapping[str, Decoder] = {
    **dict.fromkeys(("int2", "int4", "int8", "oid"), _int),
    **dict.fromkeys(("numeric", "money"), _numeric),
    **dict.fromkeys(("float4", "float8"), _float),
    **dict.fromkeys(("json", "jsonb"), _json_text),
    "bool": _bool,
    "date": _date,
    "timestamptz": _timestamptz,
    "uuid": _uuid,
    "bytea": _bytea,
    "varbit": _varbit,
    "point": _point,
}
# Adaptive precision: up to 3 fractional digits Debezium sends milliseconds, else microseconds.
_BY_PRECISION: Mapping[str, Callable[[int], Decoder]] = {"time": _time, "timestamp": _timestamp}


def time_unit_us(column: CatalogColumn) -> int:
    """Microseconds per unit of a time/timestamp column's Debezium value (adaptive precision)."""
    return 1000 if precision(column.type_name) <= 3 else 1


def _scalar_decoder(column: CatalogColumn) -> Decoder:
    if column.base_type == "bit":
        return _bits(precision(column.type_name, default=1))
    by_precision = _BY_PRECISION.get(column.base_type)
    if by_precision is not None:
        return by_precision(time_unit_us(column))
    # Text family, enums, interval, timetz, inet, …: PostgreSQL parses the text form.
    return _BY_TYPE.get(column.base_type, _str)


def decodes_as_text(column: CatalogColumn) -> bool:
    """Debezium sends this column as a string that PostgreSQL parses back (text family, json, enums,
    interval, timetz, inet, …): the value stays that string end to end."""
    if column.base_type in _BY_PRECISION or column.base_type == "bit":
        return False
    return _BY_TYPE.get(column.base_type, _str) in {_str, _json_text}


def _array(element: Decoder) -> Decoder:
    def decode(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError
        return [None if v is None else element(v) for v in value]

    return decode


def column_decoder(column: CatalogColumn) -> Decoder:
    scalar = _scalar_decoder(column)
    return _array(scalar) if column.is_array else scalar


# Decoders whose result is the JSON value itself once its type is checked: such a value is kept as it
# came, without a call (most columns of most rows).
_NATIVE: Mapping[Decoder, type] = {_int: int, _str: str, _json_text: str, _bool: bool}


class RowDecoder:
    """Decodes the before/after rows of one V1 table."""

    def __init__(self, table: CatalogTable) -> None:
        self.table = table.name
        self._decoders: Mapping[str, tuple[type | None, Decoder, str]] = {}
        for c in table.columns:
            decoder = column_decoder(c)
            self._decoders[c.name] = (_NATIVE.get(decoder), decoder, c.type_name)
        self._names = frozenset(self._decoders)

    def decode(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if not self._names.issuperset(row):
            raise SchemaMismatchError(self.table, frozenset(row) - self._names)
        out: dict[str, Any] = {}
        for name, value in row.items():
            if value is None:
                out[name] = None
                continue
            native, decoder, type_name = self._decoders[name]
            if type(value) is native:
                out[name] = value
                continue
            try:
                out[name] = decoder(value)
            except (TypeError, ValueError, InvalidOperation, OverflowError):
                raise ValueDecodeError(self.table, name, type_name, type(value).__name__) from None
        return out
