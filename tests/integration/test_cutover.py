"""``replicator cutover check|run|resume|abort`` on the real pipeline: readiness, the V1 freeze (Debezium
keeps running, applications cannot write), the fence and drain, the final verify, and undoing it.

Every command runs as the crew runs it, in a subprocess, with the module worker's settings. Whatever
happens, the module ends with V1 open again: other modules share it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg import sql

from replicator.connect.client import ConnectClient
from replicator.cutover.v1 import thaw
from replicator.metrics import Metrics
from replicator.stack.manager import Stack
from replicator.verify.continuous import run_continuous
from tests.integration.conftest import eventually
from tests.support.pipeline import Pipeline, start_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def pipeline(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = start_pipeline(
        stack,
        tmp_path_factory,
        group="replicator-cutover-test",
        scale=0.02,
        dead_letter_topic=f"replicator.dlq.cutover-{uuid.uuid4().hex[:8]}",
    )
    with pipe.v2() as v2:
        v2.execute("DELETE FROM replicator.cutover")
    with pipe.v1() as v1:  # an interrupted earlier run may have left V1 frozen
        thaw(v1, exempt_role=pipe.settings.v1_replication.user)
    pipe.drained()
    try:
        yield pipe
    finally:
        pipe.stop()
        with pipe.v1() as v1:
            thaw(v1, exempt_role=pipe.settings.v1_replication.user)


def cutover(pipeline: Pipeline, *args: str) -> tuple[int, Any]:
    return pipeline.run_json("cutover", *args)


def verify(pipeline: Pipeline) -> None:
    mapping = pipeline.env["REPLICATOR_MAPPING_PATH"]
    result = pipeline.run("verify", "--restart", "--mapping", mapping)
    assert result.returncode == 0, result.stdout + result.stderr


def checks(report: dict[str, Any]) -> dict[str, bool]:
    return {c["name"]: c["passed"] for c in report["checks"]}


def v1_writable(pipeline: Pipeline) -> bool:
    """A new application session (the admin role, not exempt) tries a write."""
    with pipeline.v1() as v1:
        try:
            v1.execute("UPDATE customers SET phone = phone WHERE id = (SELECT min(id) FROM customers)")
        except psycopg.errors.ReadOnlySqlTransaction:
            return False
    return True


def test_check_is_ready_only_once_every_table_was_verified(pipeline: Pipeline) -> None:
    with pipeline.v2() as v2:
        v2.execute("DELETE FROM replicator.verification")
    code, report = cutover(pipeline, "check")
    assert code == 1 and not report["ready"]
    assert checks(report)["verification"] is False
    assert "never verified" in next(c["detail"] for c in report["checks"] if c["name"] == "verification")
    verify(pipeline)
    code, report = cutover(pipeline, "check")
    assert code == 0 and report["ready"], report
    assert all(checks(report).values())


def test_continuous_verification_exports_the_readiness(pipeline: Pipeline) -> None:
    """replicator_cutover_ready is 1 after a verify cycle of the ready pipeline (0 when a table does not
    match: test_verify)."""
    registry = CollectorRegistry()
    run_continuous(
        pipeline.worker_settings, pipeline.mapping, cycles=1, interval=0, metrics=Metrics(registry)
    )
    assert registry.get_sample_value("replicator_cutover_ready") == 1


def test_a_cutover_that_is_not_ready_leaves_v1_untouched(pipeline: Pipeline) -> None:
    """With no worker in the group, run stops at the check: V1 still takes writes; abort clears it."""
    pipeline.stop()
    try:
        code, out = cutover(pipeline, "run")
        assert code == 1 and "workers" in out["error"]
        assert out["cutover"]["status"] == "failed" and out["cutover"]["step"] == ""
        assert v1_writable(pipeline)
        code, _ = cutover(pipeline, "run")
        assert code == 1  # a failed cutover must be resumed or aborted first
        code, out = cutover(pipeline, "abort")
        assert code == 0 and out["cutover"]["status"] == "aborted"
    finally:
        pipeline.start()
    pipeline.drained()


def test_run_freezes_v1_drains_past_the_fence_and_verifies(pipeline: Pipeline) -> None:
    """A change just before the run reaches V2; applications' sessions are ended and new ones cannot
    write; V2 equals V1; V2's id sequences are past every id V2 holds and V1 handed out; Debezium,
    restarted during the freeze, keeps running and heartbeating; a second run is refused."""
    app_session = pipeline.v1()
    with pipeline.v1() as v1:
        v1.execute(
            "UPDATE customers SET phone = 'before the cutover' WHERE id = (SELECT max(id) FROM customers)"
        )
        # Ids V1 handed out and lost (rolled-back inserts): V2 must not hand them out again.
        burnt = v1.execute(
            "SELECT max(nextval(pg_get_serial_sequence('customers', 'id'))) FROM generate_series(1, 50)"
        ).fetchone()[0]  # type: ignore[index]
    code, out = cutover(pipeline, "run")
    assert code == 0, out
    state = out["cutover"]
    assert (state["status"], state["step"]) == ("done", "sequences") and state["fence_lsn"] > 0
    with pytest.raises(psycopg.OperationalError):
        app_session.execute("SELECT 1")
    assert not v1_writable(pipeline)
    pipeline.assert_v2_is_v1_through_mapping()
    assert_v2_generates_new_ids(pipeline, customers_after=burnt)
    assert_debezium_survives_a_restart(pipeline)
    code, out = cutover(pipeline, "run")
    assert code == 1 and "abort" in out["error"]


V2_IDENTITIES_SQL = """
SELECT c.table_name, pg_get_serial_sequence(format('%%I.%%I', c.table_schema, c.table_name), c.column_name)
FROM information_schema.columns c
WHERE c.table_schema = 'public' AND c.is_identity = 'YES' AND c.table_name = ANY(%s)
ORDER BY 1
"""


def assert_v2_generates_new_ids(pipeline: Pipeline, *, customers_after: int) -> None:
    """Every identity column of the V2 tables the mapping writes: nextval gives an id above every id in
    the table (and, for customers, above the ids V1 burnt), so the application's inserts after the flip
    do not collide with replicated rows."""
    tables = list(pipeline.mapping.target_tables())
    with pipeline.v2() as v2:
        identities = v2.execute(V2_IDENTITIES_SQL, [tables]).fetchall()
        assert "customers" in {t for t, _ in identities}, identities
        for table, sequence in identities:
            top_sql = sql.SQL("SELECT coalesce(max(id), 0) FROM public.{}").format(sql.Identifier(table))
            top = v2.execute(top_sql).fetchone()[0]  # type: ignore[index]
            given = v2.execute("SELECT nextval(%s::regclass)", [sequence]).fetchone()[0]  # type: ignore[index]
            assert given > top, (table, given, top)
            if table == "customers":
                assert given > customers_after, (given, customers_after)


def assert_debezium_survives_a_restart(pipeline: Pipeline) -> None:
    """Restarted while V1 is frozen, the connector's new sessions may still write its heartbeats (the
    replication role is exempt from the freeze): its task runs and the heartbeat keeps moving."""
    settings = pipeline.settings
    response = httpx.post(
        f"{settings.connect_url}/connectors/{settings.connector_name}/restart",
        params={"includeTasks": "true", "onlyFailed": "false"},
        timeout=30,
    )
    assert response.status_code in {200, 202, 204}, response.text
    client = ConnectClient(settings.connect_url)

    def heartbeat() -> Any:
        with pipeline.v1() as v1:
            return v1.execute("SELECT ts FROM replicator.heartbeat").fetchone()[0]  # type: ignore[index]

    time.sleep(5)  # the old task has stopped; its heartbeats are not the ones measured
    restarted = heartbeat()
    eventually(lambda: heartbeat() > restarted, timeout=60)
    status = client.status(settings.connector_name)
    assert status is not None and {t["state"] for t in status["tasks"]} == {"RUNNING"}, status


def test_abort_opens_v1_again_and_replication_goes_on(pipeline: Pipeline) -> None:
    code, out = cutover(pipeline, "abort")
    assert code == 0 and out["cutover"]["status"] == "aborted"
    assert v1_writable(pipeline)
    with pipeline.v1() as v1:
        v1.execute(
            "UPDATE customers SET phone = 'after the abort' WHERE id = (SELECT max(id) FROM customers)"
        )
    pipeline.drained()
    pipeline.assert_v2_is_v1_through_mapping()


def test_a_paused_cutover_resumes_from_its_step(pipeline: Pipeline) -> None:
    """--until fence stops with V1 frozen and the fence recorded; resume (another process) finishes,
    accepting the verification recorded before the freeze (--final-verify recorded)."""
    verify(pipeline)
    code, out = cutover(pipeline, "run", "--until", "fence")
    assert code == 0 and (out["cutover"]["status"], out["cutover"]["step"]) == ("paused", "fence")
    assert out["cutover"]["remaining"] == ["drain", "verify", "sequences"]
    assert not v1_writable(pipeline)
    fence = out["cutover"]["fence_lsn"]
    code, out = cutover(pipeline, "resume", "--final-verify", "recorded")
    assert code == 0 and out["cutover"]["status"] == "done" and out["cutover"]["fence_lsn"] == fence
    verified = next(h for h in out["cutover"]["history"] if h["event"] == "verify done")
    assert verified["detail"].startswith("recorded verification accepted: all 19 V2 tables matched")
    events = [h["event"] for h in out["cutover"]["history"]]
    assert events == [
        "started",
        "check done",
        "freeze done",
        "fence done",
        "resumed",
        "drain done",
        "verify done",
        "sequences done",
        "done",
    ]
    code, out = cutover(pipeline, "abort")
    assert code == 0 and v1_writable(pipeline)


def test_a_step_the_database_refuses_fails_named_and_resumes_once_fixed(pipeline: Pipeline) -> None:
    """V2's customers sequence may not go past its MAXVALUE, which the ids V1 handed out now exceed:
    the sequences step fails with the SQLSTATE (no values), the cutover is recorded failed after verify,
    and resume runs the step again once the limit is lifted."""
    verify(pipeline)
    with pipeline.v2() as v2:
        last = v2.execute(
            "SELECT coalesce(last_value, start_value) FROM pg_sequences "
            "WHERE schemaname = 'public' AND sequencename = 'customers_id_seq'"
        ).fetchone()[0]  # type: ignore[index]
        v2.execute(sql.SQL("ALTER TABLE customers ALTER COLUMN id SET MAXVALUE {}").format(sql.Literal(last)))
    with pipeline.v1() as v1:
        v1.execute("SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, 10)")
    try:
        code, out = cutover(pipeline, "run", "--final-verify", "recorded")
        assert code == 1, out
        assert "sequences failed: NumericValueOutOfRange, sqlstate 22003" in out["error"]
        assert "resume" in out["error"]
        code, out = cutover(pipeline, "plan")
        assert (out["cutover"]["status"], out["cutover"]["step"]) == ("failed", "verify")
    finally:
        with pipeline.v2() as v2:
            v2.execute("ALTER TABLE customers ALTER COLUMN id SET NO MAXVALUE")
    code, out = cutover(pipeline, "resume", "--final-verify", "recorded")
    assert code == 0 and (out["cutover"]["status"], out["cutover"]["step"]) == ("done", "sequences")
    code, out = cutover(pipeline, "abort")
    assert code == 0 and v1_writable(pipeline)
