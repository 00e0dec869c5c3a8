"""Has replication passed a V1 position? The fence continuous verification waits on before it trusts
a difference.

Passed means: the Debezium slot has confirmed ``lsn`` (every change committed up to it is in Kafka),
and the consumer group has committed, on the relevant topics, the end offsets measured *after* that —
so every such change is applied to V2. Measuring the end offsets after the slot check (rather than
waiting for "lag 0") keeps the fence reachable while V1 keeps writing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import psycopg

from replicator.kafka_util import end_offsets, group_offsets
from replicator.settings import Settings
from replicator.verify import sql as q

__all__ = ["wait_passed"]


def _slot_passed(settings: Settings, lsn: int) -> bool:
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        row = v1.execute(q.SLOT_PASSED, [lsn, settings.slot]).fetchone()
    return bool(row and row[0])


def wait_passed(
    settings: Settings, topics: Sequence[str], lsn: int, *, timeout: float, interval: float = 0.5
) -> bool:
    """Wait until replication has applied every V1 change up to ``lsn``; False on ``timeout``."""
    deadline = time.monotonic() + timeout
    while not _slot_passed(settings, lsn):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    pattern = "|".join(re.escape(t) for t in topics)
    targets = end_offsets(settings.kafka_bootstrap, pattern)
    while True:
        committed = group_offsets(settings.kafka_bootstrap, settings.consumer_group)
        if all(committed.get(tp, 0) >= end for tp, end in targets.items()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
