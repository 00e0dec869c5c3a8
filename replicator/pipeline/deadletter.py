"""Dead-letter records: the original Kafka record plus headers naming why it could not be applied. Pure.

The original key, value and headers are kept byte for byte; error headers are added. Header names follow
Kafka Connect's ``__connect.errors.*`` convention where one exists, ours are ``__replicator.*``. Every
value is UTF-8 text (as Kafka Connect writes them).

Exception text never carries a row payload: a ``ReplicatorError`` builds its message from structured
fields (table, column, reason — never values); a foreign exception keeps its class name and a scrubbed
first line (PostgreSQL's ``DETAIL:``/``HINT:``/``CONTEXT:`` parts, which echo row values, are cut; a
psycopg error with ``diag`` is described by sqlstate, constraint, table and column only). The stack
trace lists frames only, ending in that same scrubbed line. The reason is chosen by exception class.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from replicator.errors import ReplicatorError, TerminalError, TransientError

__all__ = [
    "MESSAGE_LIMIT",
    "STACKTRACE_LIMIT",
    "DeadLetterInfo",
    "DeadLetterReason",
    "Header",
    "Stage",
    "dead_letter_record",
    "failure_history",
    "parse_dead_letter",
    "reason_for",
    "replay_headers",
    "scrub_message",
]

Header = tuple[str, bytes]

MESSAGE_LIMIT = 1024
STACKTRACE_LIMIT = 8192

CONNECT = "__connect.errors."
OURS = "__replicator."

H_TOPIC = CONNECT + "topic"
H_PARTITION = CONNECT + "partition"
H_OFFSET = CONNECT + "offset"
H_CONNECTOR = CONNECT + "connector.name"
H_TASK = CONNECT + "task.id"
H_STAGE = CONNECT + "stage"
H_CLASS = CONNECT + "class.name"
H_EXC_CLASS = CONNECT + "exception.class.name"
H_EXC_MESSAGE = CONNECT + "exception.message"
H_EXC_STACKTRACE = CONNECT + "exception.stacktrace"
H_REASON = OURS + "reason"
H_MISSING_REF = OURS + "missing_ref"
H_LSN = OURS + "source.lsn"
H_COMMIT_LSN = OURS + "source.commit_lsn"
H_ATTEMPT = OURS + "attempt"
H_REPLAY_COUNT = OURS + "replay_count"
H_FIRST_FAILURE = OURS + "first_failure_us"


class DeadLetterReason(StrEnum):
    ORPHAN_FK = "ORPHAN_FK"  # parent never arrived (or children still reference a deleted parent)
    DECODE_ERROR = "DECODE_ERROR"  # not a Debezium change the decoder understands
    TRANSFORM_ERROR = "TRANSFORM_ERROR"  # a mapping transform rejected a value
    SCHEMA_MISMATCH = "SCHEMA_MISMATCH"  # the row lacks columns the mapping needs, or types differ
    SINK_CONSTRAINT = "SINK_CONSTRAINT"  # V2 rejected the row (check, unique, not-null)
    TRUNCATE = "TRUNCATE"  # V1 emptied a table; V2's keep their rows until `repair extra` removes them
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"  # a transient error outlived its retry budget
    UNPROCESSABLE = "UNPROCESSABLE"  # any other terminal error


class Stage(StrEnum):
    """Where in the pipeline the record failed (Kafka Connect's ``stage`` header)."""

    DECODE = "DECODE"
    MAP = "MAP"
    RESOLVE_FK = "RESOLVE_FK"
    APPLY = "APPLY"


_STAGE_CLASS = {
    Stage.DECODE: "replicator.pipeline.envelope",
    Stage.MAP: "replicator.mapping.engine",
    Stage.RESOLVE_FK: "replicator.pipeline.fk",
    Stage.APPLY: "replicator.sink",
}


def _reason_table() -> list[tuple[type[BaseException], DeadLetterReason]]:
    from replicator.mapping.engine import FilterError, RowShapeError
    from replicator.mapping.transforms import TransformError
    from replicator.pipeline.envelope import DecodeError
    from replicator.pipeline.values import SchemaMismatchError, ValueDecodeError

    return [
        (DecodeError, DeadLetterReason.DECODE_ERROR),
        (SchemaMismatchError, DeadLetterReason.SCHEMA_MISMATCH),
        (ValueDecodeError, DeadLetterReason.SCHEMA_MISMATCH),
        (TransformError, DeadLetterReason.TRANSFORM_ERROR),
        (RowShapeError, DeadLetterReason.SCHEMA_MISMATCH),
        (FilterError, DeadLetterReason.SCHEMA_MISMATCH),
        (TransientError, DeadLetterReason.RETRIES_EXHAUSTED),
        (TerminalError, DeadLetterReason.UNPROCESSABLE),
    ]


def reason_for(error: BaseException) -> DeadLetterReason:
    """The dead-letter reason for an exception, by class: a class may declare its own with a
    ``dead_letter_reason`` class attribute (the sink's constraint error does), else the table above."""
    declared = getattr(type(error), "dead_letter_reason", None)
    if isinstance(declared, DeadLetterReason):
        return declared
    for cls, reason in _reason_table():
        if isinstance(error, cls):
            return reason
    return DeadLetterReason.UNPROCESSABLE


_CUT = re.compile(r"\b(DETAIL|HINT|CONTEXT|LINE \d+):", re.IGNORECASE)


def scrub_message(error: BaseException) -> str:
    """An exception's message without row values, capped to ``MESSAGE_LIMIT`` bytes of UTF-8."""
    if isinstance(error, ReplicatorError):
        text = str(error)  # built from structured fields by construction
    else:
        diag = getattr(error, "diag", None)
        parts = [
            f"{name}={value}"
            for name in ("sqlstate", "constraint_name", "schema_name", "table_name", "column_name")
            if isinstance(value := getattr(diag, name, None), str) and value
        ]
        if parts:
            text = " ".join(parts)
        else:
            text = str(error)
            match = _CUT.search(text)
            if match:
                text = text[: match.start()]
            text = text.strip().splitlines()[0] if text.strip() else ""
    return _cap(text, MESSAGE_LIMIT)


def _cap(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "..."


def _stacktrace(error: BaseException) -> str:
    frames = "".join(traceback.format_tb(error.__traceback__)) if error.__traceback__ else ""
    text = f"Traceback (most recent call last):\n{frames}{_class_name(error)}: {scrub_message(error)}"
    raw = text.encode()
    if len(raw) <= STACKTRACE_LIMIT:
        return text
    # keep the end: the innermost frames and the message are the useful part
    return "..." + raw[-(STACKTRACE_LIMIT - 3) :].decode(errors="ignore")


def _class_name(error: BaseException) -> str:
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_error_header(name: str) -> bool:
    return name.startswith((CONNECT, OURS))


def dead_letter_record(
    original_key: bytes | None,
    original_value: bytes | None,
    original_headers: Sequence[Header],
    *,
    reason: DeadLetterReason,
    stage: Stage,
    topic: str,
    partition: int,
    offset: int,
    position: tuple[int, int] | None = None,
    error: BaseException | None = None,
    missing_ref: str | None = None,
    attempt: int = 1,
    replay_count: int = 0,
    first_failure_us: int,
    connector_name: str,
    task_id: int | str,
) -> tuple[bytes | None, bytes | None, list[Header]]:
    """The dead-letter record for one original record: ``(key, value, headers)``.

    ``position`` is the source ``Position`` (``commit_lsn``, ``lsn``) when the record was decoded.
    Error headers already on the original (a replayed record failing again) are replaced; every other
    original header is kept in place.
    """
    headers = [(n, v) for n, v in original_headers if not _is_error_header(n)]
    added: dict[str, str] = {
        H_TOPIC: topic,
        H_PARTITION: str(partition),
        H_OFFSET: str(offset),
        H_CONNECTOR: connector_name,
        H_TASK: str(task_id),
        H_STAGE: stage.value,
        H_CLASS: _STAGE_CLASS[stage],
        H_REASON: reason.value,
        H_ATTEMPT: str(attempt),
        H_REPLAY_COUNT: str(replay_count),
        H_FIRST_FAILURE: str(first_failure_us),
    }
    if error is not None:
        added[H_EXC_CLASS] = _class_name(error)
        added[H_EXC_MESSAGE] = scrub_message(error)
        added[H_EXC_STACKTRACE] = _stacktrace(error)
    if missing_ref is not None:
        added[H_MISSING_REF] = _cap(missing_ref, MESSAGE_LIMIT)
    if position is not None:
        commit_lsn, lsn = position
        added[H_COMMIT_LSN] = str(commit_lsn)
        added[H_LSN] = str(lsn)
    headers.extend((name, value.encode()) for name, value in added.items())
    return original_key, original_value, headers


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """What the error headers of a dead-letter record say (for ``dlq list/show/replay``)."""

    reason: DeadLetterReason | str
    stage: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    connector_name: str | None
    task_id: str | None
    exception_class: str | None
    exception_message: str | None
    exception_stacktrace: str | None
    missing_ref: str | None
    commit_lsn: int | None
    lsn: int | None
    attempt: int
    replay_count: int
    first_failure_us: int | None
    original_headers: tuple[Header, ...]


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def parse_dead_letter(headers: Iterable[tuple[str, bytes | None]]) -> DeadLetterInfo:
    """Read the error headers back; tolerant of missing or malformed ones (older or foreign records).
    ``reason`` is a ``DeadLetterReason`` when known, else the raw text (or ``"UNKNOWN"``)."""
    found: dict[str, str] = {}
    original: list[Header] = []
    for name, value in headers:
        if _is_error_header(name):
            found[name] = (value or b"").decode(errors="replace")
        else:
            original.append((name, value or b""))
    raw_reason = found.get(H_REASON, "UNKNOWN")
    reason: DeadLetterReason | str
    try:
        reason = DeadLetterReason(raw_reason)
    except ValueError:
        reason = raw_reason
    return DeadLetterInfo(
        reason=reason,
        stage=found.get(H_STAGE),
        topic=found.get(H_TOPIC),
        partition=_int(found.get(H_PARTITION)),
        offset=_int(found.get(H_OFFSET)),
        connector_name=found.get(H_CONNECTOR),
        task_id=found.get(H_TASK),
        exception_class=found.get(H_EXC_CLASS),
        exception_message=found.get(H_EXC_MESSAGE),
        exception_stacktrace=found.get(H_EXC_STACKTRACE),
        missing_ref=found.get(H_MISSING_REF),
        commit_lsn=_int(found.get(H_COMMIT_LSN)),
        lsn=_int(found.get(H_LSN)),
        attempt=_int(found.get(H_ATTEMPT)) or 1,
        replay_count=_int(found.get(H_REPLAY_COUNT)) or 0,
        first_failure_us=_int(found.get(H_FIRST_FAILURE)),
        original_headers=tuple(original),
    )


def failure_history(headers: Iterable[tuple[str, bytes | None]], now_us: int) -> tuple[int, int]:
    """``(replay_count, first_failure_us)`` for dead-lettering a record: a replayed record that fails
    again keeps its replay count and the time of its first failure; any other record fails now."""
    info = parse_dead_letter(headers)
    return info.replay_count, info.first_failure_us if info.first_failure_us is not None else now_us


def replay_headers(headers: Iterable[tuple[str, bytes | None]]) -> list[Header]:
    """Headers for re-publishing a dead-letter record to its source topic: the original headers plus
    ``__replicator.replay_count`` (incremented) and ``__replicator.first_failure_us`` (kept), so a
    record that fails again is dead-lettered with its history. Other error headers are dropped."""
    info = parse_dead_letter(headers)
    out = list(info.original_headers)
    out.append((H_REPLAY_COUNT, str(info.replay_count + 1).encode()))
    if info.first_failure_us is not None:
        out.append((H_FIRST_FAILURE, str(info.first_failure_us).encode()))
    return out
