"""Debezium JSON values decode to exact Python values by the V1 column type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicator.mapping.catalog import CatalogColumn, CatalogTable
from replicator.pipeline.values import EPOCH, RowDecoder, SchemaMismatchError, ValueDecodeError


def col(name: str, type_name: str, base: str, *, array: bool = False) -> CatalogColumn:
    return CatalogColumn(name=name, type_name=type_name, base_type=base, is_array=array)


TABLE = CatalogTable(
    name="t",
    columns=(
        col("i", "bigint", "int8"),
        col("n", "numeric(30,10)", "numeric"),
        col("f", "double precision", "float8"),
        col("b", "boolean", "bool"),
        col("d", "date", "date"),
        col("t6", "time without time zone", "time"),
        col("t3", "time(3) without time zone", "time"),
        col("ts6", "timestamp without time zone", "timestamp"),
        col("ts3", "timestamp(3) without time zone", "timestamp"),
        col("tz", "timestamp with time zone", "timestamptz"),
        col("u", "uuid", "uuid"),
        col("by", "bytea", "bytea"),
        col("j", "jsonb", "jsonb"),
        col("tags", "text[]", "text", array=True),
        col("nums", "numeric[]", "numeric", array=True),
        col("iv", "interval", "interval"),
        col("s", "text", "text"),
    ),
)
DECODER = RowDecoder(TABLE)


def test_every_supported_type_decodes_exactly() -> None:
    """Each Debezium encoding becomes the exact Python value PostgreSQL stored."""
    row = DECODER.decode(
        {
            "i": 9_007_199_254_740_993,
            "n": "12345678901234567890.0123456789",
            "f": 0.1,
            "b": True,
            "d": 19_723,
            "t6": 45_296_123_456,
            "t3": 45_296_123,
            "ts6": 1_704_067_200_123_456,
            "ts3": 1_704_067_200_123,
            "tz": "2024-01-01T10:00:00.123456Z",
            "u": "6f1c7d52-8d3f-4b7e-9b1e-2a7f0c6d9e11",
            "by": "AAEC/w==",
            "j": '{"a": 1.10, "b": [1, 2]}',
            "tags": ["a", None, "c"],
            "nums": ["1.50", None],
            "iv": "P1Y2M3DT4H5M6.5S",
            "s": "naïve ✓",
        }
    )
    assert row == {
        "i": 9_007_199_254_740_993,
        "n": Decimal("12345678901234567890.0123456789"),
        "f": 0.1,
        "b": True,
        "d": date(2024, 1, 1),
        "t6": time(12, 34, 56, 123_456),
        "t3": time(12, 34, 56, 123_000),
        "ts6": datetime(2024, 1, 1, 0, 0, 0, 123_456),
        "ts3": datetime(2024, 1, 1, 0, 0, 0, 123_000),
        "tz": datetime(2024, 1, 1, 10, 0, 0, 123_456, tzinfo=UTC),
        "u": UUID("6f1c7d52-8d3f-4b7e-9b1e-2a7f0c6d9e11"),
        "by": b"\x00\x01\x02\xff",
        "j": '{"a": 1.10, "b": [1, 2]}',
        "tags": ["a", None, "c"],
        "nums": [Decimal("1.50"), None],
        "iv": "P1Y2M3DT4H5M6.5S",
        "s": "naïve ✓",
    }


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_timestamps_before_and_after_epoch_are_exact(micros: int) -> None:
    """Any microsecond epoch value decodes to exactly that instant (negative ones included)."""
    assert DECODER.decode({"ts6": micros})["ts6"] == EPOCH + timedelta(microseconds=micros)


def test_timestamptz_with_offset_keeps_the_instant() -> None:
    """An ISO timestamp with an offset decodes to the same instant."""
    value = DECODER.decode({"tz": "2024-06-01T12:00:00+02:00"})["tz"]
    assert value == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert value.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("i", "12"),
        ("b", 1),
        ("d", "2024-01-01"),
        ("by", "***"),
        ("u", "not-a-uuid"),
        ("n", [1]),
        ("tags", "zzz"),
    ],
)
def test_a_value_of_the_wrong_shape_names_column_and_type_not_value(column: str, bad: object) -> None:
    """A mistyped value raises a terminal error naming table, column and type, never the value."""
    with pytest.raises(ValueDecodeError) as info:
        DECODER.decode({column: bad})
    assert info.value.column == column and info.value.table == "t"
    assert str(bad) not in str(info.value)


def test_an_unknown_column_is_a_schema_mismatch() -> None:
    """A column missing from the V1 catalog is reported as a schema mismatch naming it."""
    with pytest.raises(SchemaMismatchError, match="new_col"):
        DECODER.decode({"i": 1, "new_col": 2})


def test_numeric_nan_and_infinities_in_debeziums_spelling() -> None:
    """decimal.handling.mode=string: NaN as ``NaN``, ±Infinity (PostgreSQL 14+) as Debezium's constants."""
    assert str(DECODER.decode({"n": "NaN"})["n"]) == "NaN"
    assert DECODER.decode({"n": "POSITIVE_INFINITY"})["n"] == Decimal("Infinity")
    assert DECODER.decode({"n": "NEGATIVE_INFINITY"})["n"] == Decimal("-Infinity")
    with pytest.raises(ValueDecodeError):
        DECODER.decode({"n": "INFINITY_AND_BEYOND"})
