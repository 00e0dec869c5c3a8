"""Guarantee 6, a bad mapping: a worker and the initial load check the mapping against the live V1 and V2
catalogs before anything is consumed or loaded, and stop with the field, the file and what is valid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from replicator.kafka_util import group_offsets
from replicator.stack.manager import Stack
from tests.integration.conftest import SMOKE_ENV

pytestmark = pytest.mark.integration

GROUP = "replicator-bad-mapping"


@pytest.fixture
def bad_mapping(tmp_path: Path) -> Path:
    """The smoke mapping writing a V2 column the table does not have (a rename V2 never got)."""
    text = Path(SMOKE_ENV["REPLICATOR_MAPPING_PATH"]).read_text()
    path = tmp_path / "mapping.yaml"
    path.write_text(text.replace("price: price", "list_price: price"))
    return path


def run(stack: Stack, mapping: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REPLICATOR_MAPPING_PATH": str(mapping),
        "REPLICATOR_CONSUMER_GROUP": GROUP,
        "REPLICATOR_WORKER_WEB_PORT": str(stack.worker_port(19)),
    }
    return subprocess.run(
        [sys.executable, "-m", "replicator", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_worker_with_a_mapping_v2_does_not_fit_stops_before_consuming(
    stack: Stack, bad_mapping: Path
) -> None:
    """Exit code 2 with the mapping field, the file and V2's real columns; the group consumed nothing."""
    done = run(stack, bad_mapping, "worker", "run")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"tables.smoke_items.columns.list_price (from {bad_mapping})" in done.stderr
    assert "V2 column smoke_items.list_price does not exist; valid: id, name, price, tags" in done.stderr
    assert group_offsets(stack.settings.kafka_bootstrap, GROUP) == {}


def test_the_load_with_such_a_mapping_stops_before_it_creates_a_slot(stack: Stack, bad_mapping: Path) -> None:
    """The load checks the mapping first: exit 2, the same message, and no replication slot made."""
    with psycopg.connect(stack.settings.v1_admin.conninfo(), autocommit=True) as v1:
        slots = v1.execute("SELECT slot_name FROM pg_replication_slots ORDER BY 1").fetchall()
        done = run(stack, bad_mapping, "load", "--no-register", "--mapping", str(bad_mapping))
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"tables.smoke_items.columns.list_price (from {bad_mapping})" in done.stderr
        assert v1.execute("SELECT slot_name FROM pg_replication_slots ORDER BY 1").fetchall() == slots


def test_worker_dry_run_checks_everything_and_changes_nothing(stack: Stack, bad_mapping: Path) -> None:
    """``worker run --dry-run``: with the bad mapping exit 2 and the same message; with the good one exit 0,
    naming the topics and the group it would consume, without joining the group or creating a topic."""
    refused = run(stack, bad_mapping, "worker", "run", "--dry-run")
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "tables.smoke_items.columns.list_price" in refused.stderr
    good = Path(SMOKE_ENV["REPLICATOR_MAPPING_PATH"])
    done = run(stack, good, "worker", "run", "--dry-run")
    assert done.returncode == 0, done.stderr[-2000:]
    out = " ".join((done.stdout + done.stderr).split())  # the console wraps long lines
    assert "1 table mappings and 0 relationships fit V1 and V2" in out
    assert f"as consumer group {GROUP}: v1.public.smoke_items, v1.replicator.heartbeat" in out
    assert group_offsets(stack.settings.kafka_bootstrap, GROUP) == {}
