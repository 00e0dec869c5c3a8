"""Waiting for "lag zero": Debezium has shipped V1's changes, the consumer group has applied them,
nothing is parked. Used by the demo and by the cutover crew's checks."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from replicator.errors import ReplicatorError
from replicator.kafka_util import end_offsets, group_offsets
from replicator.settings import Settings


@dataclass(frozen=True, slots=True)
class DrainState:
    slot_caught_up: bool
    consumer_lag: int
    parked: int

    @property
    def zero(self) -> bool:
        return self.slot_caught_up and self.consumer_lag == 0 and self.parked == 0


def pg_lsn(value: int) -> str:
    """A WAL position as PostgreSQL spells it (``0/1D12E390``)."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def slot_at(v1: psycopg.Connection[Any], slot: str, lsn: str) -> bool | None:
    """Has replication slot ``slot`` confirmed everything up to ``lsn``? None: no such slot."""
    row = v1.execute(
        "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots WHERE slot_name = %s", [lsn, slot]
    ).fetchone()
    return None if row is None else bool(row[0])


def drain_state(settings: Settings, topics: list[str], wal_lsn: str) -> DrainState:
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        confirmed = slot_at(v1, settings.slot, wal_lsn)
    pattern = "|".join(re.escape(t) for t in topics)
    ends = end_offsets(settings.kafka_bootstrap, pattern)
    done = group_offsets(settings.kafka_bootstrap, settings.consumer_group)
    lag = sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        parked = v2.execute("SELECT count(*) FROM replicator.parked").fetchone()
    return DrainState(bool(confirmed), lag, int(parked[0]) if parked else 0)


def wait_drained(
    settings: Settings,
    topics: list[str],
    *,
    timeout: float,
    progress: Callable[[DrainState], None] = lambda _: None,
    every: float = 5.0,
    lsn: int | None = None,
) -> DrainState:
    """Wait until everything V1 had committed when this was called (or up to ``lsn``, e.g. a fence) is
    applied, or ``timeout``."""
    if lsn is not None:
        lsn_text = pg_lsn(lsn)
    else:
        with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
            lsn_text = str(v1.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
    deadline = time.monotonic() + timeout
    last_report = 0.0
    state = drain_state(settings, topics, lsn_text)
    while not state.zero and time.monotonic() < deadline:
        if time.monotonic() - last_report >= every:
            progress(state)
            last_report = time.monotonic()
        time.sleep(1.0)
        state = drain_state(settings, topics, lsn_text)
    return state


def wait_slot_caught_up(settings: Settings, *, timeout: float = 300) -> None:
    """Wait until Debezium has shipped (and confirmed) everything V1 committed before this call."""
    slot = settings.slot
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        lsn = str(v1.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if slot_at(v1, slot, lsn) is not False:  # caught up, or no slot yet: nothing to wait for
                return
            time.sleep(0.5)
    raise ReplicatorError(f"Debezium did not catch up with V1 within {timeout:.0f}s (slot {slot})")
