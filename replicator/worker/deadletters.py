"""Producing dead letters: synchronous, acknowledged by all replicas before the V2 commit."""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from replicator.errors import TransientError

Header = tuple[str, bytes]


class DeadLetterProducer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: KafkaProducer | None = None

    def send_all(self, records: Sequence[tuple[bytes | None, bytes | None, list[Header]]]) -> None:
        """Send and wait for every record; a broker problem is transient (the batch is retried)."""
        if not records:
            return
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        try:
            futures = [self._producer.send(self.topic, key=k, value=v, headers=h) for k, v, h in records]
            self._producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=30)
        except KafkaError as exc:
            raise TransientError(f"dead-letter topic {self.topic}: {type(exc).__name__}") from None

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
