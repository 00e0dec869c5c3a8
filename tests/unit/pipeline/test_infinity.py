"""PostgreSQL's infinite timestamps and dates (``pipeline.infinity``): decoded from what the pinned
Debezium sends, encoded back to it, kept through parked items and verification state, and never taken
for (or keyed as) the real 9999-12-31 23:59:59.999999 they are stored at."""

from __future__ import annotations

from datetime import date, datetime, time

import orjson
import pytest

from replicator.pipeline.codec import decode_value, encode_value
from replicator.pipeline.encode import RowEncoder
from replicator.pipeline.fk import canonical_key
from replicator.pipeline.infinity import (
    END_OF_DAY,
    InfiniteDate,
    InfiniteDatetime,
    array_literal,
    beyond_python,
    infinite,
    infinite_date,
    infinite_timestamp,
    mixes_infinity,
)
from replicator.pipeline.values import RowDecoder
from replicator.verify.chunks import decode_key, encode_key, token
from tests.unit.pipeline.test_values import TABLE

# What Debezium 3.1.3 sent for 'infinity' and '-infinity' on the stack (timestamp, timestamp(3),
# timestamptz, date), read off the topic of a table holding them.
DEBEZIUM = {
    True: {"ts6": 9223372036825200000, "ts3": 9223372036825200, "tz": "infinity", "d": -622191234},
    False: {"ts6": -9223372036832400000, "ts3": -9223372036832400, "tz": "-infinity", "d": -625821272},
}


def expected(positive: bool) -> dict[str, object]:
    return {
        "ts6": infinite_timestamp(positive, aware=False),
        "ts3": infinite_timestamp(positive, aware=False),
        "tz": infinite_timestamp(positive, aware=True),
        "d": infinite_date(positive),
    }


@pytest.mark.parametrize("positive", [True, False])
def test_debeziums_infinities_decode_to_infinite_values_and_encode_back(positive: bool) -> None:
    decoded = RowDecoder(TABLE).decode(DEBEZIUM[positive])
    assert decoded == expected(positive)
    assert {c: infinite(v) for c, v in decoded.items()} == dict.fromkeys(
        decoded, "infinity" if positive else "-infinity"
    )
    assert orjson.loads(orjson.dumps(RowEncoder(TABLE).encode(decoded))) == DEBEZIUM[positive]


def test_the_other_spellings_are_infinities_too() -> None:
    """A streamed scalar date (PostgreSQL's ±2^31 days, overflowed) and later Debezium's Long extremes."""
    decoded = RowDecoder(TABLE).decode({"ts6": 2**63 - 1, "ts3": -(2**63), "d": -2147472692})
    assert [infinite(decoded[c]) for c in ("ts6", "ts3", "d")] == ["infinity", "-infinity", "infinity"]
    assert infinite(RowDecoder(TABLE).decode({"d": -2147472691})["d"]) == "-infinity"


def test_the_real_last_microsecond_is_not_infinity() -> None:
    real = datetime(9999, 12, 31, 23, 59, 59, 999999)
    infinity = infinite_timestamp(True, aware=False)
    assert infinite(real) is None and infinite(date(9999, 12, 31)) is None
    assert canonical_key([real]) != canonical_key([infinity])
    assert token(real) != token(infinity)


@pytest.mark.parametrize("value", [*expected(True).values(), *expected(False).values()])
def test_parked_items_and_verification_state_keep_an_infinity(value: object) -> None:
    for back in (
        decode_value(orjson.loads(orjson.dumps(encode_value(value)))),
        decode_key(encode_key((value,)))[0],
    ):  # type: ignore[index]
        assert type(back) in (InfiniteDatetime, InfiniteDate)
        assert back == value and infinite(back) == infinite(value)
        assert getattr(back, "tzinfo", None) == getattr(value, "tzinfo", None)


def test_an_array_mixing_an_infinity_is_written_as_postgresqls_array_text() -> None:
    """psycopg refuses to dump a list of two Python types; the sink writes such an array as its text."""
    mixed = [infinite_date(True), date(2024, 1, 2), None]
    assert mixes_infinity(mixed) and mixes_infinity([[infinite_date(False)], [date(2024, 1, 2)]])
    assert not mixes_infinity([infinite_date(True), None]) and not mixes_infinity([date(2024, 1, 2)])
    assert not mixes_infinity(infinite_date(True))
    assert array_literal(mixed) == "{infinity,2024-01-02,NULL}"
    stamps = [infinite_timestamp(False, aware=False), datetime(2024, 1, 2, 3, 4, 5, 6)]
    assert array_literal(stamps) == "{-infinity,2024-01-02T03:04:05.000006}"


def test_a_time_array_holding_24_00_goes_as_array_text() -> None:
    values = [END_OF_DAY, time(1, 2, 3), None]
    assert beyond_python(END_OF_DAY) and not beyond_python("24:00:00")
    assert mixes_infinity(values)
    assert array_literal(values) == "{24:00:00,01:02:03,NULL}"
