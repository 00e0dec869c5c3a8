"""Observing what readiness depends on: Debezium, the workers, Kafka, V2's books, the dead letters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg

from replicator.connect.client import ConnectClient
from replicator.cutover.checks import Check, Facts, Limits, Verification, evaluate
from replicator.cutover.v1 import frozen
from replicator.dlq.topic import DeadLetterTopic
from replicator.kafka_util import group_members
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.status import read_status

__all__ = ["gather", "readiness"]

SLOT_SQL = (
    "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
    "FROM pg_replication_slots WHERE slot_name = %s"
)
VERIFICATION_SQL = (
    "SELECT tbl, status, extract(epoch FROM clock_timestamp() - checked_at), extra, missing + different "
    "FROM replicator.verification"
)


def readiness(settings: Settings, mapping: Mapping, limits: Limits | None = None) -> list[Check]:
    """What `cutover check` reports, with ``limits`` (the defaults for the report and the gauge)."""
    return evaluate(gather(settings, mapping), limits or Limits())


def gather(settings: Settings, mapping: Mapping) -> Facts:
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        slot = v1.execute(SLOT_SQL, [settings.slot]).fetchone()
        is_frozen = frozen(v1)
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        verification = {
            str(t): Verification(str(s), float(age), int(extra), int(wrong))
            for t, s, age, extra, wrong in v2.execute(VERIFICATION_SQL).fetchall()
        }
    status = read_status(settings, settings.topic_prefix)
    # Consumer lag of the mapped tables only: the fence and heartbeat topics are read by nobody.
    mapped = {f"{settings.topic_prefix}.{mapping.source_schema}.{t.source}" for t in mapping.tables}
    unreplayed: Counter[str] = Counter(
        e.reason
        for e in DeadLetterTopic(settings.kafka_bootstrap, settings.dead_letter_topic).read()
        if not e.replays
    )
    return Facts(
        connector_state=_connector_state(settings),
        slot_active=None if slot is None else bool(slot[0]),
        retained_wal_bytes=None if slot is None else int(slot[1]),
        workers=group_members(settings.kafka_bootstrap, settings.consumer_group),
        consumer_lag=sum(n for topic, n in status.consumer_lag.items() if topic in mapped),
        parked=sum(status.parked.values()),
        ledger_violations=[str(v) for v in status.ledger.violations()],
        verification=verification,
        v2_tables=list(mapping.target_tables()),
        dead_letters=dict(unreplayed),
        frozen=is_frozen,
    )


def _connector_state(settings: Settings) -> str | None:
    status: dict[str, Any] | None = ConnectClient(settings.connect_url).status(settings.connector_name)
    if status is None:
        return None
    states = [status.get("connector", {}).get("state", "UNKNOWN")]
    states += [t.get("state", "UNKNOWN") for t in status.get("tasks", [])]
    failing = [s for s in states if s != "RUNNING"]
    return failing[0] if failing else "RUNNING"
