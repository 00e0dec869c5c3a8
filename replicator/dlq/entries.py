"""Dead letters as the ``dlq`` commands see them: selection, statistics, replay targets. Pure.

A dead letter is named by its place in the dead-letter topic, ``partition:offset``. Replays are
recorded in a compacted companion topic (``<dead-letter topic>.replays``) keyed by that name, so
``list`` shows which were replayed and ``replay`` does not send one twice unless asked to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from replicator.errors import ConfigError
from replicator.pipeline.deadletter import DeadLetterInfo, Header, parse_dead_letter

__all__ = [
    "Entry",
    "RawRecord",
    "Replay",
    "Selection",
    "Stat",
    "entry_of",
    "generation_record",
    "json_or_text",
    "parse_id",
    "read_generation",
    "read_replays",
    "replay_record",
    "replays_topic",
    "stats",
    "summary",
]


@dataclass(frozen=True, slots=True)
class Replay:
    """Where and when a dead letter was re-published."""

    replayed_at_us: int
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Entry:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    info: DeadLetterInfo
    replays: tuple[Replay, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def table(self) -> str:
        """The source table (the last part of the source topic's name), ``?`` when unknown."""
        return self.info.topic.rsplit(".", 1)[-1] if self.info.topic else "?"

    @property
    def reason(self) -> str:
        return str(self.info.reason)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as read from a topic."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def entry_of(record: RawRecord) -> Entry:
    kept = tuple((name, raw or b"") for name, raw in record.headers)
    return Entry(
        record.partition,
        record.offset,
        record.timestamp_ms,
        record.key,
        record.value,
        kept,
        parse_dead_letter(kept),
    )


def json_or_text(raw: bytes | None) -> object:
    """A record's key or value as JSON when it is JSON, else as text (undecodable bytes replaced)."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace")


def parse_id(text: str) -> tuple[int, int]:
    """``partition:offset`` → the pair; anything else is a usage error naming the expected form."""
    partition, sep, offset = text.partition(":")
    if sep and partition.isdigit() and offset.isdigit():
        return int(partition), int(offset)
    raise ConfigError(
        "--id",
        source="the command line",
        problem=f"{text!r} is not a dead letter's id",
        valid="PARTITION:OFFSET",
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command acts on: every filter given must match (none given: all)."""

    reasons: frozenset[str] = frozenset()
    tables: frozenset[str] = frozenset()
    ids: frozenset[tuple[int, int]] = frozenset()
    missing_ref: str | None = None
    """Text the missing reference contains, e.g. ``customers[[["i","42"]]]``: every dead letter waiting
    for one parent."""
    replayed: bool = True
    """False leaves out the dead letters replayed before."""

    def matches(self, entry: Entry) -> bool:
        return (
            (not self.reasons or entry.reason in self.reasons)
            and (not self.tables or entry.table in self.tables)
            and (not self.ids or (entry.partition, entry.offset) in self.ids)
            and (self.missing_ref is None or self.missing_ref in (entry.info.missing_ref or ""))
            and (self.replayed or not entry.replays)
        )

    def select(self, entries: Iterable[Entry]) -> list[Entry]:
        return [e for e in entries if self.matches(e)]


@dataclass(frozen=True, slots=True)
class Stat:
    table: str
    reason: str
    count: int
    replayed: int
    first_failure_us: int | None
    last_failure_us: int | None


def stats(entries: Iterable[Entry]) -> list[Stat]:
    """Dead letters per source table and reason, with how many were replayed and when they failed."""
    counts: Counter[tuple[str, str]] = Counter()
    replayed: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for entry in entries:
        group = (entry.table, entry.reason)
        counts[group] += 1
        replayed[group] += bool(entry.replays)
        when = entry.info.first_failure_us
        if when is not None:
            first[group] = min(first.get(group, when), when)
            last[group] = max(last.get(group, when), when)
    return [
        Stat(t, r, counts[(t, r)], replayed[(t, r)], first.get((t, r)), last.get((t, r)))
        for t, r in sorted(counts)
    ]


def summary(entry: Entry) -> dict[str, object]:
    """What ``list`` shows of a dead letter: where it failed and why, never the row."""
    info = entry.info
    return {
        "id": entry.id,
        "table": entry.table,
        "reason": entry.reason,
        "stage": info.stage,
        "source": {"topic": info.topic, "partition": info.partition, "offset": info.offset},
        "position": {"commit_lsn": info.commit_lsn, "lsn": info.lsn},
        "missing_ref": info.missing_ref,
        "exception_class": info.exception_class,
        "exception_message": info.exception_message,
        "attempt": info.attempt,
        "replay_count": info.replay_count,
        "first_failure_us": info.first_failure_us,
        "replays": [
            {
                "replayed_at_us": r.replayed_at_us,
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
            }
            for r in entry.replays
        ],
    }


def _replay_dict(replay: Replay) -> dict[str, object]:
    return {
        "replayed_at_us": replay.replayed_at_us,
        "topic": replay.topic,
        "partition": replay.partition,
        "offset": replay.offset,
    }


def replays_topic(dead_letter_topic: str) -> str:
    return f"{dead_letter_topic}.replays"


def replay_key(dead_letter_topic: str, partition: int, offset: int) -> bytes:
    return f"{dead_letter_topic}:{partition}:{offset}".encode()


def replay_record(dead_letter_topic: str, entry: Entry, replay: Replay) -> tuple[bytes, bytes]:
    """The companion topic's record saying ``entry`` was replayed as ``replay``."""
    return replay_key(dead_letter_topic, entry.partition, entry.offset), orjson.dumps(_replay_dict(replay))


def generation_key(dead_letter_topic: str) -> bytes:
    return f"{dead_letter_topic}:generation".encode()


def generation_record(
    dead_letter_topic: str, started_us: int, offsets: dict[int, int]
) -> tuple[bytes, bytes]:
    """The companion topic's record saying the pipeline started over (its V2 state emptied) when the
    dead-letter topic's partitions ended at ``offsets``: dead letters before them are another
    generation's, about rows V1 may no longer hold."""
    value = {"started_us": started_us, "offsets": {str(p): o for p, o in offsets.items()}}
    return generation_key(dead_letter_topic), orjson.dumps(value)


def read_generation(
    dead_letter_topic: str, records: Sequence[tuple[bytes | None, bytes | None]]
) -> dict[int, int]:
    """The current generation's first offset per partition (the latest generation record); {} when the
    pipeline never started over."""
    key = generation_key(dead_letter_topic)
    current: dict[int, int] = {}
    for record_key, value in records:
        if record_key != key or value is None:
            continue
        try:
            current = {int(p): int(o) for p, o in orjson.loads(value)["offsets"].items()}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            continue
    return current


def read_replays(
    dead_letter_topic: str, records: Sequence[tuple[bytes | None, bytes | None]]
) -> dict[tuple[int, int], tuple[Replay, ...]]:
    """The companion topic's records → the replays of each dead letter, oldest first. Records of another
    dead-letter topic or that do not parse are ignored."""
    prefix = f"{dead_letter_topic}:"
    out: dict[tuple[int, int], list[Replay]] = {}
    for key, value in records:
        text = (key or b"").decode(errors="replace")
        if not text.startswith(prefix) or value is None:
            continue
        try:
            partition, offset = parse_id(text[len(prefix) :])
            data = orjson.loads(value)
            replay = Replay(
                int(data["replayed_at_us"]), str(data["topic"]), int(data["partition"]), int(data["offset"])
            )
        except (ConfigError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        out.setdefault((partition, offset), []).append(replay)
    return {k: tuple(v) for k, v in out.items()}
