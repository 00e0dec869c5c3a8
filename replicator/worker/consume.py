"""Consume → apply → commit: one aiokafka group consumer per worker, in batches.

Faust's stream machinery spends about 160 ms of CPU per 1K events here (two tasks and an
``asyncio.wait`` per message), against about 5 ms for aiokafka's ``getmany`` over the same records
(``python -m bench.apply --faust``): more than the whole apply path. So the worker reads its batches
with aiokafka directly, inside the Faust app, which keeps the web views, the timers and the lifecycle.

Offsets are committed only after ``apply`` returned, that is after the V2 transaction committed. A
crash or a rebalance in between delivers the batch again (to this worker or the partition's new
owner); the position guard makes the replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)

from replicator.errors import TerminalError
from replicator.worker.processor import Record

log = logging.getLogger("replicator.worker")

Apply = Callable[[list[Record]], Awaitable[None]]
JOIN_BACKOFF_MAX_S = 30.0


def _headers(raw: Sequence[tuple[str, bytes | None]] | None) -> tuple[tuple[str, bytes], ...]:
    if not raw:  # Debezium's records carry none
        return ()
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in raw)


def to_records(batch: dict[TopicPartition, list[Any]]) -> list[Record]:
    return [
        Record(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
        for messages in batch.values()
        for m in messages
    ]


HEARTBEAT_INTERVAL_MS = 500
"""How often a member tells the coordinator it lives, and learns of a rebalance. aiokafka's default
(3 s) made every start of the two workers a 3 s rebalance: the first member to join learned on its
next heartbeat that the second had arrived, and the second waited for it, idle (the worker logs showed
3.0 s between "Revoking" and "Joined group"; 0.38 s with 500 ms). A restarted or scaled-out worker
stalls its group as long. The session timeout (10 s) stays twenty heartbeats long."""


class ChangesLostError(TerminalError):
    """Kafka deleted changes this consumer group had not applied yet (the topic's retention outran a
    stopped or lagging group): V2 misses them. The worker stops rather than skip them without a word."""

    def __init__(self, group: str, positions: dict[TopicPartition, int]) -> None:
        self.group, self.positions = group, positions
        where = ", ".join(
            f"{tp.topic} partition {tp.partition} from offset {n}" for tp, n in positions.items()
        )
        super().__init__(
            f"consumer group {group}: changes deleted by Kafka before they were applied ({where}; the log "
            "starts later now). V2 misses them, so this worker stops. Load V2 again (README: starting over), "
            "or accept the gap: move the group to the log's start (kafka-consumer-groups --reset-offsets "
            "--to-earliest), then `replicator verify` lists the rows V2 got wrong"
        )


class BatchConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        topics: list[str],
        apply: Apply,
        batch_max: int,
        wait_s: float,
        client_id: str,
    ) -> None:
        self.apply = apply
        self.batch_max = batch_max
        self.wait_ms = int(wait_s * 1000)
        self.options: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "client_id": client_id,
            "enable_auto_commit": False,
            # A partition this group never committed starts at its beginning (``_batch``); one whose
            # committed offset Kafka no longer holds stops the worker (``ChangesLostError``): "earliest"
            # would skip to the log's start and lose the deleted changes without a word.
            "auto_offset_reset": "none",
            "max_poll_records": batch_max,
            "fetch_max_wait_ms": self.wait_ms,
            "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
        }
        self.topics = topics
        self.consumer: AIOKafkaConsumer | None = None  # created in run(): it needs the running loop

    def assigned(self) -> int:
        return len(self.consumer.assignment()) if self.consumer is not None else 0

    async def run(self) -> None:
        consumer = await self._join()
        self.consumer = consumer
        try:
            while True:
                batch = await self._batch(consumer)
                if not batch:
                    continue
                await self.apply(to_records(batch))
                await self._commit(consumer, {tp: messages[-1].offset + 1 for tp, messages in batch.items()})
        finally:
            self.consumer = None
            await consumer.stop()

    async def _batch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Any]]:
        try:
            batch: dict[TopicPartition, list[Any]] = await consumer.getmany(
                timeout_ms=self.wait_ms, max_records=self.batch_max
            )
        except NoOffsetForPartitionError as exc:  # never committed by this group: from the beginning
            await consumer.seek_to_beginning(exc.args[0])
            return {}
        except OffsetOutOfRangeError as exc:
            raise ChangesLostError(self.options["group_id"], dict(exc.args[0])) from None
        return batch

    async def _join(self) -> AIOKafkaConsumer:
        """Start the consumer and join the group, retrying with backoff: the broker may be down, and a
        group can still list members of an older worker generation with another assignment protocol
        (InconsistentGroupProtocol) until their session times out. Reported, never crashed through."""
        delay = 1.0
        while True:
            consumer = AIOKafkaConsumer(*self.topics, **self.options)
            try:
                await consumer.start()
            except KafkaError as exc:
                await consumer.stop()
                log.warning(
                    "cannot join consumer group %s (%s); retrying in %.0fs",
                    self.options["group_id"],
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, JOIN_BACKOFF_MAX_S)
            else:
                return consumer

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another worker mid-batch: V2 has the batch, the new owner will read
            # it again and skip it by position.
            log.warning(
                "offset commit refused after a rebalance (%s): the batch will be re-read", type(exc).__name__
            )
