"""What `replicator status` reports: accounting from V2's ledger, parked rows, lag, dead letters."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

from replicator.kafka_util import end_offsets, group_offsets
from replicator.pipeline.accounting import Ledger
from replicator.settings import Settings


@dataclass(frozen=True, slots=True)
class Status:
    ledger: Ledger
    parked: dict[str, int]
    consumer_lag: dict[str, int]  # topic → messages behind
    lag_seconds: dict[str, float]  # V2 table → now − commit time of the last applied change
    heartbeat_age_s: float | None

    @property
    def total_consumer_lag(self) -> int:
        return sum(self.consumer_lag.values())

    @property
    def balanced(self) -> bool:
        return self.ledger.violation() is None

    def as_dict(self) -> dict[str, Any]:
        totals = self.ledger.totals()
        return {
            "accounting": totals,
            "accounting_balanced": self.balanced,
            "violations": [str(v) for v in self.ledger.violations()],
            "dead_letters_by_reason": _by_reason(self.ledger),
            "parked": self.parked,
            "parked_total": sum(self.parked.values()),
            "consumer_lag": self.consumer_lag,
            "consumer_lag_total": self.total_consumer_lag,
            "lag_seconds": self.lag_seconds,
            "heartbeat_age_s": self.heartbeat_age_s,
        }


def _by_reason(ledger: Ledger) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_table, reason), n in ledger.dead_letters.items():
        out[reason] = out.get(reason, 0) + n
    return out


def read_status(settings: Settings, topic_prefix: str) -> Status:
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        ledger = Ledger.from_entries(
            v2.execute("SELECT tbl, op, outcome, reason, events FROM replicator.ledger").fetchall()
        )
        parked: dict[str, int] = dict(
            v2.execute("SELECT tbl, count(*) FROM replicator.parked GROUP BY tbl ORDER BY tbl").fetchall()
        )
        progress: dict[str, int] = dict(
            v2.execute("SELECT name, commit_ts_us FROM replicator.progress").fetchall()
        )
    ends = end_offsets(settings.kafka_bootstrap, rf"{topic_prefix}\..*")
    committed = group_offsets(settings.kafka_bootstrap, settings.consumer_group)
    lag: dict[str, int] = {}
    for tp, end in ends.items():
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - committed.get(tp, 0))
    now_us = time.time() * 1_000_000
    heartbeat = progress.pop("heartbeat", None)
    return Status(
        ledger=ledger,
        parked={str(k): int(v) for k, v in parked.items()},
        consumer_lag=dict(sorted(lag.items())),
        lag_seconds={t: round((now_us - ts) / 1e6, 3) for t, ts in sorted(progress.items())},
        heartbeat_age_s=None if heartbeat is None else round((now_us - heartbeat) / 1e6, 3),
    )
