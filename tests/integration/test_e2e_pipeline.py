"""The replication core end to end: the demo scenario through Debezium, Kafka and the workers into V2.

One worker (consumer group ``replicator-e2e``) runs the demo mapping with park timeouts shortened to
3 s. After every scenario the whole of V2 is compared, field by field, with V1's current content
through the mapping (orphan policies applied).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from replicator.drain import wait_slot_caught_up
from replicator.kafka_util import reset_group
from replicator.stack.manager import Stack
from tests.integration.conftest import eventually
from tests.integration.kafka_util import read_topic
from tests.support.pipeline import Pipeline, start_pipeline
from tests.support.prometheus import Prometheus, free_port, prometheus
from tests.unit.test_monitoring import alert_rules, dashboard

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCALE = 0.02
WORKER = 1
GROUP = "replicator-e2e"
BEHIND = "sum(max by (topic, partition) (replicator_consumer_lag_messages))"  # the panel "Events behind"
REPLICATOR = [sys.executable, "-m", "replicator"]


@pytest.fixture(scope="module")
def pipeline(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = start_pipeline(stack, tmp_path_factory, group=GROUP, scale=SCALE, worker=WORKER)
    yield pipe
    pipe.stop()


def test_initial_sync_fills_v2_exactly(pipeline: Pipeline) -> None:
    """After the backlog drains, V2 equals V1 through the mapping, field by field, orphans per policy."""
    pipeline.drained()
    pipeline.assert_v2_is_v1_through_mapping()
    ledger = pipeline.ledger()
    assert ledger["orphan_set_null"] > 0 and ledger["dead_lettered"] > 0
    assert ledger.get("orphan_dropped", 0) > 0


def test_dashboard_calculations_match_after_replication(pipeline: Pipeline) -> None:
    """Every dashboards2.0 calculation pair returns identical results on V1 and the replicated V2."""
    from replicator.parity.calculations import load_calculations, run_calculations

    pipeline.drained()
    with pipeline.v1() as v1, pipeline.v2() as v2:
        results = run_calculations(load_calculations(), v1, v2)
    assert [r.name for r in results if not r.passed] == []
    assert len(results) == 12


def test_accounting_adds_up(pipeline: Pipeline) -> None:
    """consumed = applied + skipped + dead-lettered + orphan outcomes + (parked − released), per table/op."""
    from replicator.status import read_status

    state = read_status(pipeline.settings, "v1")
    assert state.ledger.violations() == []
    assert state.ledger.totals()["consumed"] > 0


def test_orphans_reach_the_dead_letter_topic_with_their_missing_reference(pipeline: Pipeline) -> None:
    """Each dead-lettered orphan carries its original record and headers naming reason and missing parent."""
    letters = read_topic(pipeline.settings.kafka_bootstrap, pipeline.settings.dead_letter_topic)
    orphans = [m for m in letters if (m.headers or {}).get("__replicator.reason") == b"ORPHAN_FK"]
    assert orphans
    first = orphans[0]
    headers = first.headers or {}
    assert headers["__connect.errors.topic"].startswith(b"v1.public.")
    assert b"\xe2\x86\x92" in headers["__replicator.missing_ref"]  # "relationship → table[key]"
    assert isinstance(first.value, dict) and first.value["op"] in {"c", "r", "u"}


def test_live_changes_across_related_tables(pipeline: Pipeline) -> None:
    """Child before parent, parent deleted and re-created, FK re-pointed, updates, deletes: V2 follows V1."""
    with pipeline.v1() as v1:
        office = v1.execute("SELECT id FROM offices ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
        team = v1.execute("SELECT max(id) + 1000 FROM teams").fetchone()[0]  # type: ignore[index]
        agent_user = v1.execute("SELECT id FROM users ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
        columns = [
            r[0]
            for r in v1.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'teams' ORDER BY ordinal_position"
            )
        ]
        template = v1.execute("SELECT * FROM teams ORDER BY id LIMIT 1").fetchone()
        assert template is not None
        base = dict(zip(columns, template, strict=True))
        agent = v1.execute("SELECT id FROM agents ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
        # 1. a child committed before its parent exists: the agent points at a team created afterwards
        v1.execute("UPDATE agents SET team_id = %s WHERE id = %s", [team, agent])
        time.sleep(1)
        row = {**base, "id": team, "office_id": office, "lead_agent_id": None}
        v1.execute(
            f"INSERT INTO teams ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
            [row[c] for c in columns],
        )
        # 2. a parent deleted and re-created (its child re-pointed first: V1 keeps no such FK)
        spare = v1.execute(
            "SELECT id FROM agents WHERE id <> %s ORDER BY id DESC LIMIT 1", [agent]
        ).fetchone()[0]  # type: ignore[index]
        v1.execute("UPDATE teams SET lead_agent_id = %s WHERE id = %s", [spare, team])
        v1.execute("UPDATE agents SET team_id = NULL WHERE id = %s", [agent])
        v1.execute("UPDATE teams SET lead_agent_id = NULL WHERE id = %s", [team])
        v1.execute("DELETE FROM teams WHERE id = %s", [team])
        v1.execute(
            f"INSERT INTO teams ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
            [row[c] for c in columns],
        )
        # 3. an FK re-pointed to a new parent, then ordinary updates and a delete
        v1.execute("UPDATE agents SET team_id = %s WHERE id = %s", [team, agent])
        v1.execute("UPDATE users SET first_name = first_name || 'x' WHERE id = %s", [agent_user])
        v1.execute("DELETE FROM notes WHERE id = (SELECT max(id) FROM notes)")
    pipeline.drained()
    pipeline.assert_v2_is_v1_through_mapping()


def test_large_column_survives_an_update_that_does_not_touch_it(pipeline: Pipeline) -> None:
    """A 20 KB TOASTed value is unchanged in V2 after an update of another column (no placeholder)."""
    body = os.urandom(10_000).hex()  # incompressible: stored out of line
    with pipeline.v1() as v1:
        note = v1.execute("SELECT id FROM notes WHERE is_deleted = 'N' ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
        v1.execute("UPDATE notes SET body = %s WHERE id = %s", [body, note])
        pipeline.drained()
        v1.execute("UPDATE notes SET subject_type = subject_type WHERE id = %s", [note])
        v1.execute("UPDATE notes SET subject_id = subject_id + 1 WHERE id = %s", [note])
    pipeline.drained()
    with pipeline.v2() as v2:
        stored = v2.execute("SELECT body FROM notes WHERE id = %s", [note]).fetchone()
    assert stored == (body,)
    pipeline.assert_v2_is_v1_through_mapping()


def test_malformed_and_unmappable_events_are_dead_lettered_and_the_stream_goes_on(pipeline: Pipeline) -> None:
    """A non-JSON record gets DECODE_ERROR, an unknown status code TRANSFORM_ERROR; the stream goes on."""
    settings = pipeline.settings
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    producer.send("v1.public.networks", key=b'{"id": 424242}', value=b"{definitely not json").get(timeout=30)
    producer.close()
    with pipeline.v1() as v1:
        user = v1.execute("SELECT id FROM users ORDER BY id DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
        v1.execute("UPDATE users SET status = 99 WHERE id = %s", [user])
        v1.execute(
            "UPDATE networks SET name = name || ' (renamed)' WHERE id = (SELECT min(id) FROM networks)"
        )
    eventually(lambda: pipeline.lag() == 0, timeout=120)
    letters = read_topic(settings.kafka_bootstrap, settings.dead_letter_topic)
    reasons = [(m.headers or {}).get("__replicator.reason") for m in letters]
    assert b"DECODE_ERROR" in reasons and b"TRANSFORM_ERROR" in reasons
    transform = next(m for m in letters if (m.headers or {}).get("__replicator.reason") == b"TRANSFORM_ERROR")
    assert b"99" not in (transform.headers or {}).get("__connect.errors.exception.message", b"")
    with pipeline.v1() as v1:
        v1.execute("UPDATE users SET status = 1 WHERE id = %s", [user])  # fixed at the source
    pipeline.drained()
    pipeline.assert_v2_is_v1_through_mapping()


def test_metrics_report_lag_accounting_and_dead_letters(pipeline: Pipeline) -> None:
    """/metrics counts exactly what this test causes (applied updates, a dead letter) and shows fresh lag."""
    port = pipeline.stack.worker_port(WORKER)

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(samples: dict[Any, float], name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    applied = ("replicator_events_total", {"table": "networks", "op": "upsert", "outcome": "applied"})
    decode = ("replicator_dead_letters_total", {"table": "networks", "reason": "DECODE_ERROR"})
    before = scrape()
    with pipeline.v1() as v1:
        for _ in range(3):
            v1.execute("UPDATE networks SET name = name || '.' WHERE id = (SELECT min(id) FROM networks)")
    producer = KafkaProducer(bootstrap_servers=pipeline.settings.kafka_bootstrap)
    producer.send("v1.public.networks", key=b'{"id": 434343}', value=b"[not an envelope").get(timeout=30)
    producer.close()
    pipeline.drained()
    after = eventually(
        lambda: (
            (m := scrape())
            and value(m, applied[0], **applied[1]) >= value(before, applied[0], **applied[1]) + 3
            and m
        )
    )
    assert value(after, applied[0], **applied[1]) - value(before, applied[0], **applied[1]) == 3
    assert value(after, decode[0], **decode[1]) - value(before, decode[0], **decode[1]) == 1
    lag = eventually(lambda: value(scrape(), "replicator_end_to_end_lag_seconds", table="networks") or None)
    assert 0 < lag < 30, "end-to-end lag must be fresh (heartbeats) and small on an idle V1"
    assert value(after, "replicator_apply_batch_duration_seconds_count") > 0
    ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_the_dashboard_and_the_alerts_show_the_live_pipeline(pipeline: Pipeline, tmp_path: Path) -> None:
    """A real Prometheus, configured as shipped, scrapes the worker and ``replicator verify --continuous``:
    every Grafana panel's query returns data, the figures an SRE reads first are right (one worker up,
    nothing behind, the tables verified, changes just applied counted), and every alert rule evaluates
    against the real series without an error."""
    verify_port = free_port()
    verify = subprocess.Popen(
        [*REPLICATOR, "verify", "--continuous", "--interval", "2", "--metrics-port", str(verify_port)],
        env={**os.environ, **pipeline.env},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "verify.log").open("wb"),
    )
    jobs = {
        "replicator": f"127.0.0.1:{pipeline.stack.worker_port(WORKER)}",
        "replicator-verify": f"127.0.0.1:{verify_port}",
    }
    try:
        with prometheus(tmp_path, jobs) as server:
            eventually(lambda: server.query('replicator_events_total{outcome="applied"}'), timeout=30)
            with pipeline.v1() as v1:  # after a first scrape, so that the rate panels see it
                v1.execute("UPDATE networks SET name = name || '.' WHERE id = (SELECT min(id) FROM networks)")
            pipeline.drained()

            deadline = time.monotonic() + 90
            while (unmet := _unmet(server)) and time.monotonic() < deadline:
                time.sleep(1)
            assert not unmet, f"after 90 s of scraping: {unmet}"
            panels = {(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p["targets"]}
            empty = [title for title, expr in sorted(panels) if not server.query(expr)]
            assert not empty, f"panels without data: {empty}"

            def value(expr: str) -> float:
                return float(server.query(expr)[0]["value"][1])

            assert value('sum(up{job="replicator"})') == 1
            assert value(BEHIND) == 0
            assert value("time() - max(replicator_last_commit_timestamp_seconds)") < 60
            verified = server.query("min by (table) (replicator_verification_passed)")
            assert {s["metric"]["table"] for s in verified} >= {t.target for t in pipeline.mapping.tables}
            assert all(float(s["value"][1]) == 1 for s in verified), verified
            rules = eventually(lambda: (r := server.rules()) and all("health" in x for x in r) and r)
            assert {r["name"] for r in rules} == {r["alert"] for r in alert_rules()}
            broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
            assert not broken, f"alert rules failing on the real series: {broken}"
    finally:
        verify.terminate()
        verify.wait(timeout=30)


def _unmet(server: Prometheus) -> list[str]:
    """What Prometheus does not show yet: both targets up, a verify cycle, the update just applied, and
    nothing behind."""
    checks = {
        "a verify cycle": "replicator_cutover_ready",
        "applied changes": 'sum(rate(replicator_events_total{outcome="applied"}[1m])) > 0',
        "nothing behind": f"{BEHIND} == 0",
    }
    down = [
        f"{t['labels']['job']} {t['health']}: {t['lastError']}"
        for t in server.targets()
        if t["health"] != "up"
    ]
    return down + [name for name, expr in checks.items() if not server.query(expr)]


def test_replay_from_offset_zero_changes_nothing(pipeline: Pipeline) -> None:
    """Re-consuming every topic from this scenario's first offset leaves every V2 row and version unchanged.

    (Earlier offsets belong to other test modules' V1 tables, since dropped: not this V1's history.)
    """
    pipeline.drained()
    before = pipeline.snapshot()
    stale_before = pipeline.ledger().get("skipped_stale", 0)
    pipeline.stop()
    reset_group(pipeline.settings.kafka_bootstrap, GROUP, pipeline.topics, to=pipeline.start_offsets)
    pipeline.start()
    eventually(lambda: pipeline.ledger().get("skipped_stale", 0) > stale_before, timeout=120)
    pipeline.drained()
    assert pipeline.snapshot() == before
    pipeline.assert_v2_is_v1_through_mapping()


def test_sigkill_mid_batch_loses_and_duplicates_nothing(pipeline: Pipeline) -> None:
    """SIGKILL of the worker part-way through a backlog, then a restart: V2 still equals V1 exactly and
    the books balance."""
    from replicator.status import read_status

    pipeline.stop()
    with pipeline.v1() as v1:
        for _ in range(60):
            v1.execute(
                "UPDATE audit_logs SET action = action % 5 + 1 WHERE id IN "
                "(SELECT id FROM audit_logs ORDER BY random() LIMIT 200)"
            )
            v1.execute(
                "UPDATE customer_metadata SET updated_at = updated_at + interval '1 second' WHERE id % 7 = 0"
            )
    wait_slot_caught_up(pipeline.settings)  # the whole backlog is in Kafka before the worker starts
    backlog = pipeline.lag()
    assert backlog > 5_000
    pipeline.start()
    lag_at_kill = eventually(lambda: (n := pipeline.lag()) < backlog and n, timeout=120, interval=0.05)
    pid = next(w.pid() for w in pipeline.stack.workers() if w.name == f"worker-{WORKER}")
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    assert 0 < lag_at_kill < backlog, "the kill must land while the backlog is being applied"
    pipeline.stop()
    pipeline.start()
    pipeline.drained()
    pipeline.assert_v2_is_v1_through_mapping()
    assert read_status(pipeline.settings, "v1").ledger.violations() == []


def test_two_workers_in_one_group_share_the_partitions(pipeline: Pipeline) -> None:
    """A second worker joins the group: both get partitions, and V2 still follows V1 exactly."""
    second = WORKER + 1
    pipeline.stack.start_worker(second, env=pipeline.env)
    try:

        def assigned(index: int) -> int:
            try:
                response = httpx.get(f"http://127.0.0.1:{pipeline.stack.worker_port(index)}/ready", timeout=5)
            except httpx.HTTPError:
                return 0
            return int(response.json().get("assigned_partitions", 0))

        eventually(lambda: assigned(WORKER) > 0 and assigned(second) > 0, timeout=120)
        with pipeline.v1() as v1:
            v1.execute("UPDATE customers SET first_name = first_name || 'y' WHERE id % 3 = 0")
            v1.execute("UPDATE listings SET bedrooms = bedrooms + 1 WHERE id % 4 = 0")
        pipeline.drained()
        pipeline.assert_v2_is_v1_through_mapping()
    finally:
        for worker in pipeline.stack.workers():
            if worker.name == f"worker-{second}":
                worker.stop()
