"""Canonical tokens, order-independent checksums, chunk planning and boundary encoding."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from replicator.verify.chunks import (
    Chunk,
    checksum,
    decode_key,
    encode_key,
    merge_boundaries,
    plan_chunks,
    token,
    tokens,
)

rows = st.lists(
    st.dictionaries(st.sampled_from(["id", "a", "b"]), st.text(max_size=5), min_size=1),
    max_size=30,
)


@given(rows, st.randoms())
def test_checksum_does_not_depend_on_row_order(items: list[dict[str, str]], rnd: object) -> None:
    """Two sides holding the same rows in any order have equal checksums."""
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert checksum(items) == checksum(shuffled)


def test_checksum_sees_a_changed_a_missing_and_a_duplicated_row() -> None:
    """Changing one value, dropping a row or duplicating one changes the checksum (no XOR cancelling)."""
    base = [{"id": "1", "v": "a"}, {"id": "2", "v": "b"}]
    reference = checksum(base)
    assert checksum([{"id": "1", "v": "a"}, {"id": "2", "v": "c"}]) != reference
    assert checksum(base[:1]) != reference
    assert checksum([*base, base[0], base[0]]).digest != reference.digest
    assert checksum([*base, base[0]]) != reference


def test_tokens_equal_exactly_when_postgresql_values_are_equal() -> None:
    """Numeric scale and time zone do not matter; the instant, the digits and the type do."""
    assert token(Decimal("1.5")) == token(Decimal("1.50"))
    assert token(Decimal("1.5")) != token(Decimal("1.51"))
    utc = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    assert token(utc) == token(utc.astimezone(dt.timezone(dt.timedelta(hours=-5))))
    assert token(utc) != token(utc + dt.timedelta(microseconds=1))
    assert token(1) != token("1")
    assert token(None) != token("")
    u = uuid.uuid4()
    assert token(u) == token(str(u))


def test_json_tokens_compare_v1_text_with_v2_jsonb_exactly() -> None:
    """V1's JSON text and V2's parsed jsonb agree up to key order and number spelling, not beyond."""
    v2 = {"b": [1, Decimal("2.10")], "a": {"x": None, "y": True}}
    assert token('{"a": {"y": true, "x": null}, "b": [1.0, 2.1]}', json_column=True) == token(
        v2, json_column=True
    )
    assert token('{"a": {"y": true, "x": null}, "b": [1, 2.11]}', json_column=True) != token(
        v2, json_column=True
    )
    assert token("0.1000000000000000055511151231257827", json_column=True) != token("0.1", json_column=True)
    assert token('"1"', json_column=True) != token("1", json_column=True)


def test_tokens_read_an_absent_column_as_null() -> None:
    """A column a merge source does not feed is expected NULL."""
    assert tokens({"id": 1}, ["id", "x"], frozenset()) == {"id": token(1), "x": token(None)}


@given(st.lists(st.integers(-1000, 1000), unique=True), st.lists(st.integers(-1000, 1000), max_size=10))
def test_every_key_falls_in_exactly_one_chunk(keys: list[int], bounds: list[int]) -> None:
    """Chunks from any boundaries partition the key space: no key checked twice or never."""
    chunks = plan_chunks(merge_boundaries([(b,) for b in bounds]))
    for key in keys:
        assert sum(c.contains((key,)) for c in chunks) == 1


def test_boundaries_from_both_sides_are_merged_sorted_and_unique() -> None:
    """V1's and V2's samples together bound the chunks, so neither side's chunk grows unbounded."""
    merged = merge_boundaries([(10,), (20,)], [(5,), (20,), (30,)])
    assert merged == [(5,), (10,), (20,), (30,)]
    chunks = plan_chunks(merged)
    assert chunks[0] == Chunk(0, None, (5,))
    assert chunks[-1] == Chunk(4, (30,), None)
    assert plan_chunks([]) == [Chunk(0, None, None)]


def test_boundaries_survive_the_resume_state_with_their_types() -> None:
    """A boundary read back from the state file is the same key (same types)."""
    key = (1, "a", Decimal("1.50"), uuid.UUID(int=5), dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3))
    assert decode_key(encode_key(key)) == key
    assert decode_key(encode_key(None)) is None
