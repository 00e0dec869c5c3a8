"""Reading the dead-letter topic and re-publishing dead letters to their source topics.

A replay sends the original key, value and headers (plus ``__replicator.replay_count`` one higher and
the first failure's time) to the source topic, to the partition the record came from, so it queues
with the row's live changes and the workers apply it like any other change: the position guard skips
it when V2's row is already newer, and it fails again, with its history, when its cause is still
there. Each replay is then recorded in the companion topic. A crash between the two sends the dead
letter again on the next replay: harmless, by the same guard.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from replicator.dlq.entries import (
    Entry,
    RawRecord,
    Replay,
    entry_of,
    generation_record,
    read_generation,
    read_replays,
    replay_record,
    replays_topic,
)
from replicator.errors import ReplicatorError
from replicator.pipeline.deadletter import replay_headers

__all__ = ["DeadLetterTopic", "ReplayError", "target_partition"]

POLL_MS = 1000


class ReplayError(ReplicatorError):
    """A dead letter cannot be re-published (its source topic is gone, or the broker refused it)."""


class DeadLetterTopic:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic

    def read(self, *, all_generations: bool = False) -> list[Entry]:
        """The dead letters of the current generation (since the pipeline last started over; with
        ``all_generations``, every one in the topic), in (partition, offset) order, with their replays."""
        recorded = [(r.key, r.value) for r in self._records(replays_topic(self.topic))]
        replays = read_replays(self.topic, recorded)
        start = {} if all_generations else read_generation(self.topic, recorded)
        return [
            replace(entry, replays=replays.get((entry.partition, entry.offset), ()))
            for entry in map(entry_of, self._records(self.topic, start))
        ]

    def start_generation(self) -> dict[int, int]:
        """Record that the pipeline starts over here (its V2 state, row versions included, emptied):
        the dead letters before are left out of list, stats, replay and the cutover check by default.
        Replaying them could bring back rows of a V1 that was since recreated. Returns the offsets."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            parts = [
                TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())
            ]
            offsets = {tp.partition: end for tp, end in consumer.end_offsets(parts).items()} if parts else {}
        finally:
            consumer.close()
        self._ensure_replays_topic()
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            key, value = generation_record(self.topic, int(time.time() * 1_000_000), offsets)
            producer.send(replays_topic(self.topic), key=key, value=value).get(timeout=30)
        except KafkaError as exc:
            raise ReplayError(f"cannot record a new dead-letter generation: {type(exc).__name__}") from None
        finally:
            producer.close(timeout=10)
        return offsets

    def replay(self, entries: Sequence[Entry]) -> list[Replay]:
        """Re-publish ``entries`` (in order) and record each replay; returns where each one went."""
        if not entries:
            return []
        partitions = self._partitions({e.info.topic or "" for e in entries})
        missing = sorted(t or "(no source topic header)" for t, n in partitions.items() if not n)
        if missing:
            raise ReplayError(
                f"cannot replay: source topic(s) {', '.join(missing)} do not exist; "
                "leave these dead letters out with --reason/--table/--id"
            )
        self._ensure_replays_topic()
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        try:
            futures = [
                producer.send(
                    entry.info.topic or "",
                    key=entry.key,
                    value=entry.value,
                    headers=replay_headers(entry.headers),
                    partition=target_partition(entry, partitions),
                )
                for entry in entries
            ]
            producer.flush(timeout=60)
            now_us = int(time.time() * 1_000_000)
            sent = [future.get(timeout=30) for future in futures]
            done = [Replay(now_us, meta.topic, meta.partition, meta.offset) for meta in sent]
            for entry, replay in zip(entries, done, strict=True):
                key, value = replay_record(self.topic, entry, replay)
                producer.send(replays_topic(self.topic), key=key, value=value)
            producer.flush(timeout=60)
            return done
        except KafkaError as exc:
            raise ReplayError(f"the broker refused a replay: {type(exc).__name__}") from None
        finally:
            producer.close(timeout=10)

    # ---------------------------------------------------------------- I/O helpers

    def _records(self, topic: str, start: dict[int, int] | None = None) -> list[RawRecord]:
        """Every record of ``topic`` up to its current end; per partition from ``start`` when given (the
        current generation: earlier records are not read at all)."""
        start = start or {}
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            ends = consumer.end_offsets(parts) if parts else {}
            ends = {tp: end for tp, end in ends.items() if end > start.get(tp.partition, 0)}
            if not ends:
                return []
            consumer.assign(list(ends))
            consumer.seek_to_beginning(*ends)
            for tp in ends:
                if start.get(tp.partition, 0) > consumer.position(tp):
                    consumer.seek(tp, start[tp.partition])
            out = []
            remaining = set(ends)
            while remaining:
                for tp, messages in consumer.poll(timeout_ms=POLL_MS).items():
                    out += [
                        RawRecord(m.partition, m.offset, m.timestamp, m.key, m.value, tuple(m.headers or ()))
                        for m in messages
                        if m.offset < ends[tp]
                    ]
                    if messages and messages[-1].offset >= ends[tp] - 1:
                        remaining.discard(tp)
                for tp in list(remaining):  # compaction may have removed the last records
                    if consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            consumer.close()
        return sorted(out, key=lambda r: (r.partition, r.offset))

    def _partitions(self, topics: set[str]) -> dict[str, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            existing = consumer.topics()
            return {t: len(consumer.partitions_for_topic(t) or ()) if t in existing else 0 for t in topics}
        finally:
            consumer.close()

    def _ensure_replays_topic(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            name = replays_topic(self.topic)
            if name not in admin.list_topics():
                with contextlib.suppress(TopicAlreadyExistsError):  # another replay created it first
                    admin.create_topics([NewTopic(name, 1, 1, topic_configs={"cleanup.policy": "compact"})])
        finally:
            admin.close()


def target_partition(entry: Entry, partitions: dict[str, int]) -> int | None:
    """The partition the record came from; a loaded row's dead letter (partition -1) goes where its key
    hashes, as Debezium's producer sends that row's changes."""
    original = entry.info.partition
    return original if original is not None and 0 <= original < partitions[entry.info.topic or ""] else None
