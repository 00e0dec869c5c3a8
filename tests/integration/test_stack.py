"""The real local stack: Debezium events reach Kafka, the worker applies them to V2, restarts lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from replicator.settings import Settings, load_settings
from replicator.stack import jvm
from replicator.stack.manager import Stack
from tests.integration.conftest import eventually
from tests.integration.kafka_util import read_topic

pytestmark = pytest.mark.integration

TOPIC = "v1.public.smoke_items"


def _v2_rows(v2: psycopg.Connection[Any], ids: list[int]) -> list[tuple[Any, ...]]:
    return v2.execute(
        "SELECT id, name, price::text, tags FROM smoke_items WHERE id = ANY(%s) ORDER BY id", [ids]
    ).fetchall()


def _ops_for(settings: Settings, row_id: int) -> list[str]:
    """The ops ('c', 'u', 'd', 'r', or 'tombstone') of every record of ``row_id``, in order."""
    return [
        "tombstone" if m.value is None else m.value["op"]
        for m in read_topic(settings.kafka_bootstrap, TOPIC)
        if m.key == {"id": row_id}
    ]


def test_insert_update_delete_reach_kafka_and_v2(
    settings: Settings, v1: psycopg.Connection[Any], v2: psycopg.Connection[Any]
) -> None:
    """An insert, an update and a delete in V1 arrive on Kafka as c/u/d plus a tombstone, and V2 follows."""
    v1.execute("INSERT INTO smoke_items VALUES (1, 'kept', 10.50, '{a,b}'), (2, 'gone', 1.00, NULL)")
    v1.execute("UPDATE smoke_items SET name = 'kept-updated', price = 11.25 WHERE id = 1")
    v1.execute("DELETE FROM smoke_items WHERE id = 2")

    eventually(lambda: _ops_for(settings, 2) == ["c", "d", "tombstone"])
    assert _ops_for(settings, 1) == ["c", "u"]
    eventually(lambda: _v2_rows(v2, [1, 2]) == [(1, "kept-updated", "11.25", ["a", "b"])])


def test_change_made_while_connect_is_down_arrives_without_resnapshot(
    stack: Stack, settings: Settings, v1: psycopg.Connection[Any], v2: psycopg.Connection[Any]
) -> None:
    """With Kafka Connect stopped, a V1 change waits in the slot; after restart it arrives, no re-snapshot."""
    connect = jvm.connect(settings, stack.layout)
    before = read_topic(settings.kafka_bootstrap, TOPIC)
    connect.stop()
    assert not connect.running()
    v1.execute("INSERT INTO smoke_items VALUES (10, 'while-down', 3.00, NULL)")
    connect.start(settings.stack.start_timeout_s)

    eventually(lambda: _ops_for(settings, 10) == ["c"], timeout=90)
    after = read_topic(settings.kafka_bootstrap, TOPIC)
    new = after[len(before) :] if after[: len(before)] == before else after
    assert all(m.value is None or m.value["op"] != "r" for m in new), "connector re-snapshotted"
    assert len(after) == len(before) + 1
    eventually(lambda: _v2_rows(v2, [10]) == [(10, "while-down", "3.00", None)])


def test_debezium_streams_as_non_superuser_replication_role(
    settings: Settings, v1: psycopg.Connection[Any]
) -> None:
    """Debezium's walsender belongs to the REPLICATION LOGIN role, which is not a superuser."""
    user = settings.v1_replication.user
    streaming = v1.execute("SELECT usename FROM pg_stat_replication WHERE state = 'streaming'").fetchall()
    assert (user,) in streaming
    role = v1.execute(
        "SELECT rolsuper, rolreplication, rolcanlogin FROM pg_roles WHERE rolname = %s", [user]
    ).fetchone()
    assert role == (False, True, True)
    publication = v1.execute(
        "SELECT puballtables, pubowner::regrole::text FROM pg_publication WHERE pubname = 'replicator_v1'"
    ).fetchone()
    assert publication is not None and publication[1] != user, (
        "publication must be pre-created, not by Debezium"
    )


def test_v2_writer_has_dml_but_no_ddl(settings: Settings) -> None:
    """The V2 writer role can write rows but cannot create or drop tables."""
    with psycopg.connect(settings.v2_writer.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM smoke_items")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.should_not_exist (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE public.smoke_items")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replicator", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )


def test_status_json_reports_every_component_healthy(stack: Stack) -> None:
    """`stack status --json` lists V1, V2, Kafka, Connect and the worker with their ports, all healthy."""
    result = _cli("stack", "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {c["name"]: c for c in report["components"]}
    s = stack.settings.stack
    assert {n: by_name[n]["port"] for n in ("postgres-v1", "postgres-v2", "kafka", "connect")} == {
        "postgres-v1": s.v1_port,
        "postgres-v2": s.v2_port,
        "kafka": s.kafka_port,
        "connect": s.connect_port,
    }
    assert report["healthy"] is True and all(c["healthy"] for c in report["components"])
    assert any(name.startswith("worker-") for name in by_name)


def test_second_up_is_a_no_op(stack: Stack) -> None:
    """`stack up` on a running stack starts nothing: every component keeps its pid."""
    before = {s.name: s.pid for s in stack.status()}
    result = _cli("stack", "up")
    assert result.returncode == 0, result.stderr
    assert {s.name: s.pid for s in stack.status()} == before


def test_up_with_changed_ports_on_a_running_stack_says_to_restart_it(stack: Stack) -> None:
    """A running component started with other ports is not silently taken for healthy."""
    free_port = stack.settings.stack.v1_port + 1000
    env = {**os.environ, "REPLICATOR_STACK__V1_PORT": str(free_port)}
    result = subprocess.run(
        [sys.executable, "-m", "replicator", "stack", "up"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 3
    assert f"does not listen on its configured port {free_port}" in result.stderr
    assert "stack down" in result.stderr
    assert all(s.running for s in stack.status() if s.name.startswith("postgres"))
    # stack.env followed the changed ports; an up with the real ones puts it back.
    assert _cli("stack", "up").returncode == 0
    assert load_settings(stack.settings.state_dir).v1_admin.port == stack.settings.stack.v1_port


def test_secrets_never_reach_logs_or_connector_config(stack: Stack, settings: Settings) -> None:
    """No stack password appears in any component log or in the connector config stored in Kafka."""
    secrets = [
        e.password.get_secret_value()
        for e in (settings.v1_admin, settings.v1_replication, settings.v2_admin, settings.v2_writer)
    ]
    logs = [*stack.layout.logs.glob("*.log"), stack.layout.pg_log("v1"), stack.layout.pg_log("v2")]
    for path in logs:
        text = path.read_text(errors="replace")
        assert not [s for s in secrets if s in text], f"a password leaked into {path}"
    configs = read_topic(settings.kafka_bootstrap, "_connect-configs")
    assert not [s for s in secrets if s in json.dumps([m.value for m in configs])]
