"""Parked items survive serialization exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from replicator.mapping.engine import Delete, Upsert
from replicator.pipeline.codec import decode_item, decode_value, encode_item, encode_value
from replicator.pipeline.envelope import Position
from replicator.pipeline.planner import Positioned

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.uuids(),
    st.binary(),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=10)


@given(values)
def test_every_value_round_trips_exactly(value: object) -> None:
    """Any supported value decodes to an equal value of the same type (1.50 stays 1.50)."""
    back = decode_value(__import__("orjson").loads(__import__("orjson").dumps(encode_value(value))))
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, Decimal):
        assert str(back) == str(value)


def test_upsert_and_delete_items_round_trip() -> None:
    """A parked upsert (with missing TOAST columns) and a parked delete decode to equal items."""
    upsert = Positioned(
        Upsert(
            "listings",
            "listings",
            (7,),
            {
                "id": 7,
                "price": Decimal("1.10"),
                "at": datetime(2024, 1, 1, tzinfo=UTC),
                "d": date(2024, 1, 2),
                "t": time(1, 2),
                "u": UUID(int=5),
                "b": b"\x00",
                "tags": ["a", None],
                "span": timedelta(seconds=3),
            },
            frozenset({"body"}),
        ),
        Position(10, 20),
        "v1.public.listings",
        2,
        99,
        1_700_000_000_000_000,
    )
    delete = Positioned(
        Delete("listings", "listings", (7,)), Position(11, 21), "v1.public.listings", 2, 100, 5
    )
    assert decode_item(encode_item(upsert)) == upsert
    assert decode_item(encode_item(delete)) == delete
