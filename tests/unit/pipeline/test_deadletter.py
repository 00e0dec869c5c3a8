"""Dead-letter records: original record kept, typed reason and position in headers, no payload leaks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from replicator.errors import TerminalError, TransientError
from replicator.mapping.engine import RowShapeError
from replicator.mapping.transforms import TransformError
from replicator.pipeline.deadletter import (
    MESSAGE_LIMIT,
    STACKTRACE_LIMIT,
    DeadLetterReason,
    Stage,
    dead_letter_record,
    parse_dead_letter,
    reason_for,
    replay_headers,
)
from replicator.pipeline.envelope import DecodeError

SECRET = "4111-1111-1111-1111"


def record(
    error: BaseException | None = None, **kw: object
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    args: dict[str, object] = {
        "reason": DeadLetterReason.ORPHAN_FK,
        "stage": Stage.RESOLVE_FK,
        "topic": "v1.public.offices",
        "partition": 3,
        "offset": 42,
        "position": (100, 120),
        "error": error,
        "missing_ref": 'offices_network → networks[["i","9"]]',
        "attempt": 2,
        "replay_count": 1,
        "first_failure_us": 1_700_000_000_000_000,
        "connector_name": "v1",
        "task_id": 0,
    }
    args.update(kw)
    return dead_letter_record(b'{"id":1}', b'{"after":{"card":"x"}}', [("trace", b"abc")], **args)  # type: ignore[arg-type]


def headers(h: list[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode() for k, v in h}


class PgError(Exception):
    """A foreign (driver-like) exception whose message echoes row values after DETAIL:."""


class Diag:
    sqlstate = "23503"
    constraint_name = "offices_network_fk"
    table_name = "offices"
    schema_name = None
    column_name = None


class DiagError(Exception):
    diag = Diag()


def test_original_key_value_and_headers_are_kept_unchanged() -> None:
    """The dead-letter record carries the original key, value and headers byte for byte."""
    key, value, h = record()
    assert key == b'{"id":1}' and value == b'{"after":{"card":"x"}}'
    assert h[0] == ("trace", b"abc")


def test_headers_name_reason_source_and_position() -> None:
    """Kafka Connect's error header names plus ours carry topic, partition, offset, reason, ref and LSNs."""
    h = headers(record()[2])
    assert h["__connect.errors.topic"] == "v1.public.offices"
    assert h["__connect.errors.partition"] == "3"
    assert h["__connect.errors.offset"] == "42"
    assert h["__connect.errors.connector.name"] == "v1"
    assert h["__connect.errors.task.id"] == "0"
    assert h["__connect.errors.stage"] == "RESOLVE_FK"
    assert h["__connect.errors.class.name"] == "replicator.pipeline.fk"
    assert h["__replicator.reason"] == "ORPHAN_FK"
    assert h["__replicator.missing_ref"].startswith("offices_network")
    assert (h["__replicator.source.commit_lsn"], h["__replicator.source.lsn"]) == ("100", "120")
    assert (h["__replicator.attempt"], h["__replicator.replay_count"]) == ("2", "1")


def test_replicator_errors_keep_their_structured_message() -> None:
    """A ReplicatorError's message (built from fields, never values) is carried with its class name."""
    error = TransformError(
        mapping="users", column="status", transform="int_code_to_enum", reason="unknown code"
    )
    h = headers(record(error, reason=reason_for(error))[2])
    assert h["__connect.errors.exception.class.name"] == "replicator.mapping.transforms.TransformError"
    assert "unknown code" in h["__connect.errors.exception.message"]
    assert h["__replicator.reason"] == "TRANSFORM_ERROR"


def test_foreign_error_messages_lose_the_detail_that_echoes_row_values() -> None:
    """Text after DETAIL: (PostgreSQL echoes the row there) never reaches the headers or stack trace."""
    try:
        raise PgError(
            f'insert violates foreign key constraint "fk"\nDETAIL: Key (card)=({SECRET}) is not present.'
        )
    except PgError as exc:
        h = headers(record(exc)[2])
    assert SECRET not in str(h)
    assert h["__connect.errors.exception.message"] == 'insert violates foreign key constraint "fk"'
    assert h["__connect.errors.exception.stacktrace"].startswith("Traceback")


def test_driver_errors_with_diag_are_described_by_structured_fields_only() -> None:
    """A psycopg-like error is described by sqlstate, constraint and table — not its message."""
    error = DiagError(f"boom {SECRET}")
    h = headers(record(error)[2])
    assert (
        h["__connect.errors.exception.message"]
        == "sqlstate=23503 constraint_name=offices_network_fk table_name=offices"
    )
    assert SECRET not in str(h)


def test_exception_text_is_capped() -> None:
    """Message and stack trace stay within 1 KiB and 8 KiB."""
    h = headers(record(TerminalError("x" * 5000))[2])
    assert len(h["__connect.errors.exception.message"].encode()) <= MESSAGE_LIMIT
    assert len(h["__connect.errors.exception.stacktrace"].encode()) <= STACKTRACE_LIMIT


def test_reason_is_chosen_by_exception_class() -> None:
    """Decode, transform, row-shape, transient and other terminal errors map to their reasons by class."""

    class SinkConstraintError(TerminalError):
        dead_letter_reason = DeadLetterReason.SINK_CONSTRAINT

    assert reason_for(DecodeError("bad")) is DeadLetterReason.DECODE_ERROR
    assert reason_for(RowShapeError(table="t", mapping="m", columns=frozenset({"c"}), reason="r")) is (
        DeadLetterReason.SCHEMA_MISMATCH
    )
    assert reason_for(TransientError()) is DeadLetterReason.RETRIES_EXHAUSTED
    assert reason_for(SinkConstraintError()) is DeadLetterReason.SINK_CONSTRAINT
    assert reason_for(ValueError("ORPHAN_FK")) is DeadLetterReason.UNPROCESSABLE


def test_parse_reads_back_what_was_written() -> None:
    """dlq list/show see the reason, source coordinates, position and counts of a dead letter."""
    info = parse_dead_letter(record()[2])
    assert info.reason is DeadLetterReason.ORPHAN_FK
    assert (info.topic, info.partition, info.offset) == ("v1.public.offices", 3, 42)
    assert (info.commit_lsn, info.lsn, info.attempt, info.replay_count) == (100, 120, 2, 1)
    assert info.original_headers == (("trace", b"abc"),)


def test_replay_increments_the_count_and_a_new_failure_replaces_old_error_headers() -> None:
    """Replaying bumps replay_count and keeps first_failure_us; a new failure has one set of error headers."""
    replayed = replay_headers(record()[2])
    info = parse_dead_letter(replayed)
    assert info.replay_count == 2 and info.first_failure_us == 1_700_000_000_000_000
    assert info.reason == "UNKNOWN" and ("trace", b"abc") in replayed
    _, _, again = dead_letter_record(
        None,
        None,
        replayed,
        reason=DeadLetterReason.DECODE_ERROR,
        stage=Stage.DECODE,
        topic="t",
        partition=0,
        offset=1,
        replay_count=info.replay_count,
        first_failure_us=1,
        connector_name="v1",
        task_id=0,
    )
    names = [k for k, _ in again]
    assert len(names) == len(set(names))
    assert parse_dead_letter(again).replay_count == 2


@given(st.text(max_size=3000))
def test_no_message_ever_exceeds_the_cap_or_keeps_detail(text: str) -> None:
    """Whatever a foreign exception says, the header is capped and nothing after DETAIL: survives."""
    h = headers(record(RuntimeError(text + "\nDETAIL: " + SECRET))[2])
    assert len(h["__connect.errors.exception.message"].encode()) <= MESSAGE_LIMIT
    assert SECRET not in h["__connect.errors.exception.message"] or SECRET in text
