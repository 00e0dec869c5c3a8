"""Selecting, counting and recording dead letters (pure), and the failure history a replay carries."""

from __future__ import annotations

from dataclasses import replace

import pytest

from replicator.dlq.entries import (
    Entry,
    RawRecord,
    Replay,
    Selection,
    entry_of,
    parse_id,
    read_replays,
    replay_record,
    stats,
    summary,
)
from replicator.errors import ConfigError
from replicator.pipeline.codec import decode_headers, encode_headers
from replicator.pipeline.deadletter import (
    DeadLetterReason,
    Stage,
    dead_letter_record,
    failure_history,
    replay_headers,
)

DLQ = "replicator.dlq"


def letter(
    offset: int, table: str, reason: DeadLetterReason, *, failed_us: int = 1_000, missing: str | None = None
) -> Entry:
    key, value, headers = dead_letter_record(
        b'{"id":1}',
        b'{"after":{"id":1,"secret":"s3cret"}}',
        [("trace", b"abc")],
        reason=reason,
        stage=Stage.RESOLVE_FK,
        topic=f"v1.public.{table}",
        partition=2,
        offset=offset * 10,
        missing_ref=missing,
        first_failure_us=failed_us,
        connector_name="v1",
        task_id="worker",
    )
    return entry_of(RawRecord(0, offset, 0, key, value, tuple(headers)))


def test_a_selection_matches_only_what_every_filter_given_allows() -> None:
    entries = [
        letter(0, "customer_metadata", DeadLetterReason.ORPHAN_FK, missing='m → customers[[["i","5"]]]'),
        letter(1, "customer_metadata", DeadLetterReason.ORPHAN_FK, missing='m → customers[[["i","55"]]]'),
        letter(2, "transaction_logs", DeadLetterReason.ORPHAN_FK, missing='t → transactions[[["i","5"]]]'),
        letter(3, "networks", DeadLetterReason.DECODE_ERROR),
    ]
    entries[1] = replace(entries[1], replays=(Replay(1, "t", 0, 9),))

    def ids(selection: Selection) -> list[str]:
        return [e.id for e in selection.select(entries)]

    assert ids(Selection()) == ["0:0", "0:1", "0:2", "0:3"]
    assert ids(Selection(reasons=frozenset({"ORPHAN_FK"}), tables=frozenset({"customer_metadata"}))) == [
        "0:0",
        "0:1",
    ]
    assert ids(Selection(missing_ref='customers[[["i","5"]]]')) == ["0:0"]  # not customers 55
    assert ids(Selection(ids=frozenset({(0, 3)}))) == ["0:3"]
    assert ids(Selection(reasons=frozenset({"ORPHAN_FK"}), replayed=False)) == ["0:0", "0:2"]


def test_stats_count_per_table_and_reason_with_replays_and_failure_times() -> None:
    entries = [
        letter(0, "a", DeadLetterReason.ORPHAN_FK, failed_us=30),
        letter(1, "a", DeadLetterReason.ORPHAN_FK, failed_us=10),
        letter(2, "a", DeadLetterReason.TRANSFORM_ERROR, failed_us=20),
    ]
    rows = stats(entries)
    assert [
        (s.table, s.reason, s.count, s.replayed, s.first_failure_us, s.last_failure_us) for s in rows
    ] == [
        ("a", "ORPHAN_FK", 2, 0, 10, 30),
        ("a", "TRANSFORM_ERROR", 1, 0, 20, 20),
    ]


def test_a_summary_names_where_and_why_but_never_the_row() -> None:
    entry = letter(4, "customers", DeadLetterReason.ORPHAN_FK, missing='c → agents[[["i","1"]]]')
    shown = summary(entry)
    assert shown["id"] == "0:4" and shown["table"] == "customers" and shown["reason"] == "ORPHAN_FK"
    assert shown["source"] == {"topic": "v1.public.customers", "partition": 2, "offset": 40}
    assert "s3cret" not in repr(shown)


def test_replays_are_read_back_per_dead_letter_and_foreign_records_ignored() -> None:
    entry = letter(7, "a", DeadLetterReason.ORPHAN_FK)
    first, second = Replay(1, "v1.public.a", 2, 100), Replay(2, "v1.public.a", 2, 200)
    records = [
        replay_record(DLQ, entry, first),
        replay_record("another.dlq", entry, second),
        (b"replicator.dlq:not-an-id", b"{}"),
        (b"replicator.dlq:0:7", b"not json"),
        replay_record(DLQ, entry, second),
    ]
    assert read_replays(DLQ, records) == {(0, 7): (first, second)}


def test_ids_are_partition_colon_offset() -> None:
    assert parse_id("2:15") == (2, 15)
    for bad in ("2", "a:1", "1:-3", ""):
        with pytest.raises(ConfigError, match="PARTITION:OFFSET"):
            parse_id(bad)


def test_a_replayed_record_that_fails_again_keeps_its_count_and_first_failure() -> None:
    """failure_history reads what replay_headers wrote; a record never replayed fails now, count 0."""
    original = letter(0, "t", DeadLetterReason.ORPHAN_FK, failed_us=111).headers
    assert failure_history(replay_headers(original), now_us=999) == (1, 111)
    assert failure_history([("trace", b"x")], now_us=999) == (0, 999)


def test_headers_survive_the_parked_store_encoding() -> None:
    headers = (("a", b"\x00\xff binary"), ("__replicator.replay_count", b"3"))
    assert decode_headers(encode_headers(headers)) == headers
    assert encode_headers(()) is None and decode_headers(None) == ()


def test_a_replay_goes_to_the_records_own_partition_else_where_its_key_hashes() -> None:
    """A streamed record's partition when the topic still has it; a loaded row's (-1) or a vanished
    partition: None, so the producer hashes the key as Debezium's producer does for that row."""
    from replicator.dlq.topic import target_partition

    def at(partition: int) -> Entry:
        key, value, headers = dead_letter_record(
            b"k",
            b"v",
            [],
            reason=DeadLetterReason.ORPHAN_FK,
            stage=Stage.RESOLVE_FK,
            topic="v1.public.users",
            partition=partition,
            offset=1,
            first_failure_us=1,
            connector_name="v1",
            task_id="load",
        )
        return entry_of(RawRecord(0, 0, 0, key, value, tuple(headers)))

    partitions = {"v1.public.users": 3}
    assert [target_partition(at(p), partitions) for p in (0, 2, 3, -1)] == [0, 2, None, None]


def test_the_latest_generation_record_says_where_the_current_dead_letters_start() -> None:
    from replicator.dlq.entries import generation_record, read_generation

    first = generation_record(DLQ, 1, {0: 5, 1: 7})
    latest = generation_record(DLQ, 2, {0: 9, 1: 7, 2: 1})
    other = generation_record("another.dlq", 3, {0: 100})
    entry = letter(1, "t", DeadLetterReason.ORPHAN_FK)
    records = [first, replay_record(DLQ, entry, Replay(1, "t", 0, 1)), latest, other, (first[0], b"not json")]
    assert read_generation(DLQ, records) == {0: 9, 1: 7, 2: 1}
    assert read_generation(DLQ, [other]) == {}
    assert read_replays(DLQ, records) == {
        (0, 1): (Replay(1, "t", 0, 1),)
    }  # the generation record is no replay
