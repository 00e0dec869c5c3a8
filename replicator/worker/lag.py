"""Periodic measurements for the metrics: consumer lag, parked rows, the V1 slot's retained WAL, and the
V1 tables whose writes the publication makes PostgreSQL refuse (no replica identity)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from replicator.db.bootstrap import keyless_tables
from replicator.kafka_util import end_offsets, group_offsets
from replicator.settings import Settings

SLOT_SQL = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
    "FROM pg_replication_slots WHERE slot_name = %s"
)


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    consumer_lag: dict[tuple[str, int], int]
    parked: dict[str, int]
    slot_wal_bytes: int | None
    keyless: list[str]


def measure(settings: Settings, topics: list[str]) -> LagSnapshot:
    pattern = "|".join(t.replace(".", r"\.") for t in topics)
    ends = end_offsets(settings.kafka_bootstrap, pattern)
    committed = group_offsets(settings.kafka_bootstrap, settings.consumer_group)
    lag = {(tp.topic, tp.partition): max(0, end - committed.get(tp, 0)) for tp, end in ends.items()}
    with psycopg.connect(settings.v2_writer.conninfo()) as v2:
        parked = {
            str(t): int(n) for t, n in v2.execute("SELECT tbl, count(*) FROM replicator.parked GROUP BY tbl")
        }
    with psycopg.connect(settings.v1_replication.conninfo()) as v1:
        row = v1.execute(SLOT_SQL, [settings.slot]).fetchone()
        keyless = keyless_tables(v1)
    return LagSnapshot(lag, parked, None if row is None or row[0] is None else int(row[0]), keyless)
