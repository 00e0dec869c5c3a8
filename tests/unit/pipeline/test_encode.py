"""Python values → Debezium JSON is the exact inverse of ``RowDecoder`` (the initial load relies on it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import orjson
from hypothesis import given
from hypothesis import strategies as st

from replicator.pipeline.encode import RowEncoder, text_columns
from replicator.pipeline.values import RowDecoder
from tests.unit.pipeline.test_values import TABLE

ROW = {
    "i": -(2**62),
    "n": Decimal("-12345678901234567890.0000000001"),
    "f": 1.0000000000000002,
    "b": True,
    "d": date(1900, 2, 28),
    "t6": time(23, 59, 59, 999999),
    "t3": time(0, 0, 0, 123000),
    "ts6": datetime(1969, 12, 31, 23, 59, 59, 999999),
    "ts3": datetime(2038, 1, 19, 3, 14, 7, 999000),
    "tz": datetime(2024, 3, 10, 2, 30, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
    "u": UUID("12345678-1234-5678-1234-567812345678"),
    "by": b"\x00\xff\n",
    "j": '{"a": [1, 2.50, "x"]}',
    "tags": ["a", None, "b c"],
    "nums": [Decimal("1.50"), None, Decimal("1E+3")],
    "iv": "1 year 2 mons 3 days 04:05:06.789",
    "s": "text",
}


def roundtrip(row: dict[str, object]) -> dict[str, object]:
    """Encode, serialise as the JSON converter would, parse, decode."""
    return RowDecoder(TABLE).decode(orjson.loads(orjson.dumps(RowEncoder(TABLE).encode(row))))


def test_every_type_survives_the_round_trip() -> None:
    out = roundtrip(ROW)
    assert out == ROW
    assert str(out["n"]) == str(ROW["n"])  # the same digits, not only an equal number
    assert [str(v) for v in out["nums"]] == ["1.50", "None", "1000"]  # type: ignore[attr-defined]


def test_nulls_stay_null_and_special_floats_are_strings() -> None:
    encoded = RowEncoder(TABLE).encode({"i": None, "f": float("nan")})
    assert encoded == {"i": None, "f": "NaN"}
    assert RowEncoder(TABLE).encode({"f": float("-inf")}) == {"f": "-Infinity"}


def test_timestamptz_is_sent_in_utc_like_debezium() -> None:
    encoded = RowEncoder(TABLE).encode({"tz": datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))})
    assert encoded == {"tz": "2024-01-01T10:00:00Z"}


def test_text_family_columns_are_read_as_text() -> None:
    assert text_columns(TABLE) == {"j", "tags", "iv", "s"}


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.decimals(allow_nan=False, allow_infinity=False, places=10, min_value=-(10**19), max_value=10**19),
    st.datetimes(timezones=st.just(UTC), min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
)
def test_timestamps_and_numerics_round_trip(ts: datetime, n: Decimal, tz: datetime) -> None:
    row = {"ts6": ts, "n": n, "tz": tz, "d": ts.date(), "t6": ts.time()}
    assert roundtrip(row) == row


def test_numeric_infinities_are_sent_as_debezium_spells_them() -> None:
    encoded = RowEncoder(TABLE).encode({"n": Decimal("Infinity"), "nums": [Decimal("-Infinity")]})
    assert encoded == {"n": "POSITIVE_INFINITY", "nums": ["NEGATIVE_INFINITY"]}
    row = {"n": Decimal("-Infinity")}
    assert roundtrip(row) == row
    assert str(roundtrip({"n": Decimal("NaN")})["n"]) == "NaN"
