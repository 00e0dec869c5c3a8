"""Removing the connector completely: the next registration starts from nothing.

Deleting a Kafka Connect connector leaves its stored source offsets and its replication slot behind, and
its topics keep their events. ``fresh_connector`` removes all of them, so that a reseeded V1 is loaded
again from scratch (``replicator demo run --reseed``, the benchmark, the tests).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import psycopg

from replicator.connect.config import load_connector
from replicator.poll import until
from replicator.settings import Settings

Conn = psycopg.Connection[Any]

__all__ = ["delete_topics", "drop_idle_slot", "fresh_connector"]


def fresh_connector(settings: Settings, *, topics: str | None = None, timeout: float = 60.0) -> None:
    """No connector, no stored source offsets, no slot, no ``topics`` (a regex; by default every topic
    of the connector's prefix): the next registration snapshots."""
    name = load_connector().name
    topics = rf"{re.escape(settings.topic_prefix)}\..*" if topics is None else topics
    http = httpx.Client(base_url=settings.connect_url, timeout=30.0)
    if http.get(f"/connectors/{name}").status_code == 404:
        # Offsets outlive a deleted connector: recreate it stopped so they can be deleted.
        body = {"name": name, "config": load_connector().config, "initial_state": "STOPPED"}
        http.post("/connectors", json=body).raise_for_status()
    else:
        http.put(f"/connectors/{name}/stop").raise_for_status()
    until(lambda: _state(http, name) == "STOPPED", f"{name} to stop", timeout)
    until(
        lambda: http.delete(f"/connectors/{name}/offsets").status_code < 300,
        "its stored offsets to be deleted",
        timeout,
    )
    http.delete(f"/connectors/{name}").raise_for_status()
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        slot = settings.slot
        until(lambda: drop_idle_slot(v1, slot), f"slot {slot} to be released and dropped", timeout)
    delete_topics(settings.kafka_bootstrap, topics)


def _state(http: httpx.Client, name: str) -> str:
    response = http.get(f"/connectors/{name}/status")
    return str(response.json().get("connector", {}).get("state")) if response.status_code == 200 else ""


def drop_idle_slot(v1: Conn, slot: str) -> bool:
    """Drop replication slot ``slot`` unless a client holds it: True when it is gone (or never was)."""
    row = v1.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", [slot]).fetchone()
    if row is None:
        return True
    if row[0]:
        return False
    v1.execute("SELECT pg_drop_replication_slot(%s)", [slot])
    return True


def delete_topics(bootstrap: str, pattern: str, *, timeout: float = 60.0) -> None:
    from kafka import KafkaAdminClient

    regex = re.compile(pattern)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        doomed = [t for t in admin.list_topics() if regex.fullmatch(t)]
        if doomed:
            admin.delete_topics(doomed)
        until(
            lambda: not any(regex.fullmatch(t) for t in admin.list_topics()),
            f"topics {pattern} to be deleted",
            timeout,
        )
    finally:
        admin.close()
