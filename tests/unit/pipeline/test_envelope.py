"""Decoding Debezium PostgreSQL records (JSON, schemas disabled)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicator.pipeline.envelope import (
    UNAVAILABLE_VALUE,
    DecodeError,
    Heartbeat,
    Op,
    Position,
    RowChange,
    Tombstone,
    Truncate,
    decode,
)


def envelope(
    op: str = "u",
    *,
    before: Any = None,
    after: Any = None,
    lsn: int = 200,
    last_commit: int | None = 100,
    table: str = "listings",
    snapshot: str = "false",
) -> bytes:
    source = {
        "version": "3.1.3.Final",
        "connector": "postgresql",
        "name": "v1",
        "ts_ms": 1_700_000_000_123,
        "ts_us": 1_700_000_000_123_456,
        "snapshot": snapshot,
        "db": "brokerage",
        "sequence": orjson.dumps([None if last_commit is None else str(last_commit), str(lsn)]).decode(),
        "schema": "public",
        "table": table,
        "txId": 750,
        "lsn": lsn,
        "xmin": None,
    }
    return orjson.dumps({"before": before, "after": after, "source": source, "op": op, "ts_ms": 1})


def test_update_carries_rows_and_source_position() -> None:
    """An update decodes to its table, op, rows, commit time in µs and (commit LSN, LSN) position."""
    record = decode(b'{"id":1}', envelope("u", before={"id": 1, "p": "1.10"}, after={"id": 1, "p": "2.20"}))
    assert isinstance(record, RowChange)
    assert (record.table, record.op, record.after, record.key) == (
        "listings",
        Op.UPDATE,
        {"id": 1, "p": "2.20"},
        {"id": 1},
    )
    assert record.position == Position(commit_lsn=100, lsn=200)
    assert record.commit_ts_us == 1_700_000_000_123_456
    assert record.tx_id == 750 and not record.snapshot


def test_null_value_is_a_tombstone() -> None:
    """A record with a key and a null value (after a delete) is a tombstone, not a change."""
    assert decode(b'{"id":7}', None) == Tombstone(key={"id": 7})


def test_unchanged_toast_placeholder_never_reaches_the_row() -> None:
    """Columns holding Debezium's unavailable-value placeholder are removed and named in `unavailable`."""
    after = {"id": 1, "body": UNAVAILABLE_VALUE, "tags": [UNAVAILABLE_VALUE], "title": "x"}
    record = decode(b'{"id":1}', envelope("u", after=after))
    assert isinstance(record, RowChange)
    assert record.after == {"id": 1, "title": "x"}
    assert record.unavailable == frozenset({"body", "tags"})


def test_escaped_toast_placeholder_is_still_found() -> None:
    """A placeholder spelled with JSON escapes is found too (the raw-bytes shortcut must not miss it)."""
    raw = envelope("u", after={"id": 1, "body": "PLACEHOLDER"}).replace(
        b"PLACEHOLDER", UNAVAILABLE_VALUE.replace("_", "\\u005f").encode()
    )
    record = decode(b'{"id":1}', raw)
    assert isinstance(record, RowChange)
    assert record.after == {"id": 1} and record.unavailable == frozenset({"body"})


def test_row_without_placeholder_keeps_every_column() -> None:
    """A row with no placeholder comes through whole, with nothing unavailable."""
    record = decode(b'{"id":1}', envelope("u", after={"id": 1, "body": "__debezium", "tags": []}))
    assert isinstance(record, RowChange)
    assert record.after == {"id": 1, "body": "__debezium", "tags": []}
    assert record.unavailable == frozenset()


def test_heartbeat_table_change_is_a_heartbeat() -> None:
    """A change of the heartbeat table is reported as a heartbeat with its commit time."""
    raw = envelope("u", after={"id": 1, "ts": "2024-01-01T00:00:00Z"}, table="heartbeat")
    raw = raw.replace(b'"schema":"public"', b'"schema":"replicator"')
    record = decode(b'{"id":1}', raw, heartbeat_tables=frozenset({("replicator", "heartbeat")}))
    assert record == Heartbeat(commit_ts_us=1_700_000_000_123_456, lsn=200)


def test_debezium_heartbeat_record_is_a_heartbeat() -> None:
    """Debezium's own heartbeat-topic record ({"ts_ms": …}) decodes as a heartbeat."""
    assert decode(b'{"serverName":"v1"}', b'{"ts_ms":1700000000000}') == Heartbeat(
        commit_ts_us=1_700_000_000_000_000, lsn=None
    )


def _sequence(text: str) -> bytes:
    """A create whose ``source.sequence`` is ``text``."""
    raw = orjson.loads(envelope("c", after={"id": 1}))
    raw["source"]["sequence"] = text
    return orjson.dumps(raw)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"{", b"{}", "key is not valid JSON"),
        (None, b"not json", "value is not valid JSON"),
        (None, b"[1,2]", "value is not a JSON object"),
        (None, b'{"op":"c","after":{}}', "envelope has no source block"),
        (None, envelope("x", after={"id": 1}), "unknown op"),
        (None, envelope("d", before=None), "delete without before"),
        (None, envelope("c", after=None), "op c without after"),
        (None, envelope("c", after=[1]), "after is not an object"),
        (b"[1]", None, "tombstone without an object key"),
        (None, _sequence('[null,"x",'), "source.sequence is malformed"),
        (None, _sequence("[null,"), "source.sequence is malformed"),
    ],
)
def test_malformed_records_raise_a_terminal_decode_error(
    key: bytes | None, value: bytes | None, reason: str
) -> None:
    """Each kind of malformed record raises DecodeError naming what is wrong, never the payload."""
    with pytest.raises(DecodeError) as info:
        decode(key, value, topic="v1.public.listings")
    assert info.value.reason == reason
    assert "v1.public.listings" in str(info.value)


def test_decode_error_does_not_echo_the_payload() -> None:
    """A secret-looking value inside a malformed record never appears in the error message."""
    raw = orjson.dumps({"op": "c", "after": {"ssn": "123-45-6789"}})
    with pytest.raises(DecodeError) as info:
        decode(None, raw)
    assert "123-45-6789" not in str(info.value)


@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)), min_size=2, max_size=20))
def test_positions_order_as_commit_lsn_then_lsn(pairs: list[tuple[int, int]]) -> None:
    """Positions compare by commit LSN first, then by LSN within the transaction."""
    positions = [Position(c, lsn) for c, lsn in pairs]
    assert sorted(positions) == [Position(c, lsn) for c, lsn in sorted(pairs)]


def test_snapshot_read_is_flagged() -> None:
    """A snapshot read (op r) is marked as snapshot."""
    record = decode(b'{"id":1}', envelope("r", after={"id": 1}, snapshot="true"))
    assert isinstance(record, RowChange) and record.snapshot and record.op is Op.READ


def test_a_truncate_decodes_to_its_table_and_position() -> None:
    """Debezium's truncate event (op t, no before or after, null key) names the table V1 emptied."""
    record = decode(None, envelope("t", table="audit_logs", lsn=300, last_commit=290))
    assert record == Truncate("public", "audit_logs", Position(290, 300), 1_700_000_000_123_456)
