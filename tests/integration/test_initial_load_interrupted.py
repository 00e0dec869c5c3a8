"""An initial load whose loading process is killed midway, or whose first process V2 refuses: a clear
error without row values, every process stopped, then a clean rerun.

The load must stop (not hang at its barrier) and say how to go on; what it had applied stays, guarded
by row versions; ``--replace-slot`` (``replace_slot=True``) loads again from a new snapshot and V2
ends exactly V1 through the mapping, with nothing parked and nothing applied twice.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from typing import Any

import psycopg
import pytest

from replicator.demo.load import SCHEMAS_DIR
from replicator.load.run import LoadReport, initial_load
from replicator.load.source import LoadError
from replicator.mapping.model import load_mapping
from replicator.stack.manager import Stack
from tests.support.first_sync import seed_with_empty_v2, v2_problems

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCALE = 0.02


def _v2_rows(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM public.audit_logs").fetchone()
    return int(row[0]) if row else 0


def test_a_killed_loading_process_stops_the_load_and_a_rerun_completes_it(stack: Stack) -> None:
    settings = stack.settings
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    seed_with_empty_v2(settings, mapping, scale=SCALE)

    outcome: dict[str, BaseException | LoadReport] = {}

    def load() -> None:
        try:
            outcome["result"] = initial_load(
                settings, mapping, batch_rows=20, processes=2, alone_bytes=0, register=False
            )
        except BaseException as exc:
            outcome["result"] = exc

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    # Kill one loading process once the load is past its first groups (audit_logs rows arrive).
    deadline = time.monotonic() + 120
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        while time.monotonic() < deadline and _v2_rows(v2) == 0 and loader.is_alive():
            time.sleep(0.05)
        children = multiprocessing.active_children()
        assert children, "the load runs its shares in child processes"
        os.kill(children[-1].pid or 0, signal.SIGKILL)
        loader.join(timeout=120)
        assert not loader.is_alive(), "the other loading process must not hang at the barrier"
        partial_rows = _v2_rows(v2)
    failure = outcome["result"]
    assert isinstance(failure, LoadError), failure
    assert "--replace-slot" in str(failure)
    assert partial_rows > 0
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        slot = v1.execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'replicator_v1'"
        ).fetchone()
    assert slot == (False,), "the slot stays, idle, for the operator to replace"

    with pytest.raises(LoadError, match="already exists"):
        initial_load(settings, mapping, register=False)
    report = initial_load(settings, mapping, replace_slot=True)  # and registers: later modules stream
    totals = report.ledger.totals()
    assert totals.get("released") == totals.get("parked")
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        assert v2.execute("SELECT count(*) FROM replicator.parked").fetchone() == (0,)
    assert v2_problems(settings, mapping) == {}


_FAIL_TEAMS = """
CREATE FUNCTION public.fail_teams() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a refusal no row can fix (a right V2 does not grant), its message quoting the row like some do
    RAISE EXCEPTION 'injected failure: payload %', row_to_json(NEW)::text
        USING ERRCODE = 'insufficient_privilege', DETAIL = 'payload ' || row_to_json(NEW)::text;
END $$;
CREATE TRIGGER fail_teams BEFORE INSERT OR UPDATE ON public.teams
    FOR EACH ROW EXECUTE FUNCTION public.fail_teams();
"""


def test_a_failure_in_the_first_loading_process_stops_the_others(stack: Stack) -> None:
    """The first process loads the leading groups alone while the others start (``load.order.alone``);
    V2 refusing its writes (here a trigger on ``teams``, a linked group only it reads, raising a refusal
    no row can fix) must stop the spawned processes, which wait at the barrier, and name the failure
    without the row. (A trigger rejecting rows, SQLSTATE class P0, dead-letters them instead.)"""
    settings = stack.settings
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    seed_with_empty_v2(settings, mapping, scale=SCALE)
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute(_FAIL_TEAMS)
    try:  # a spawned process left waiting at its barrier would hang here (the suite's timeout fails it)
        with pytest.raises(LoadError) as failure:
            initial_load(settings, mapping, processes=2, register=False)
    finally:
        with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
            v2.execute("DROP TRIGGER fail_teams ON public.teams; DROP FUNCTION public.fail_teams()")
    message = str(failure.value)
    assert "process 0: DatabaseRefusedError: V2 refused the batch" in message, message
    assert "InsufficientPrivilege (sqlstate 42501)" in message, message
    assert "payload" not in message, "the trigger's message and DETAIL echo the row: not to the terminal"
    assert "--replace-slot" in message
    assert not multiprocessing.active_children(), "every spawned loading process has ended"

    # and registers, as the first test's rerun does: the modules after this one stream through it
    report = initial_load(settings, mapping, replace_slot=True)
    assert report.rows.get("teams") and report.registered, report.rows
    assert v2_problems(settings, mapping) == {}
