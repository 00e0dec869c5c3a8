"""First deployment into an EMPTY V2: Debezium's snapshot, then the workers, until nothing is parked.

Debezium snapshots tables in alphabetical order, so children (agents, audit_logs, …) reach Kafka before
their parents (users, teams, …), and teams ↔ agents form a cycle. Most rows are parked first and must
all be released as their parents arrive — including chains of parked parents and both halves of the
cycle. Before the fix this test pins, the sweep re-examined the same expired items forever (their
deadline stayed in the past) and nothing ever loaded a parked parent, so thousands of rows stayed
parked for good.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from replicator.connect.register import register_connector
from replicator.demo.load import SCHEMAS_DIR
from replicator.drain import wait_drained
from replicator.mapping.model import Mapping, load_mapping
from replicator.stack.manager import Stack
from replicator.worker.app import source_topics
from tests.support.first_sync import seed_with_empty_v2, v2_problems

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCALE = 0.02
WORKER = 4
GROUP = "replicator-e2e-empty"


@pytest.fixture(scope="module")
def first_sync(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mapping]:
    text = (SCHEMAS_DIR / "mapping.yaml").read_text()
    mapping_file: Path = tmp_path_factory.mktemp("mapping") / "mapping.yaml"
    mapping_file.write_text(re.sub(r"park_timeout: \S+", "park_timeout: 2s", text))
    mapping = load_mapping(mapping_file)
    settings = stack.settings
    seed_with_empty_v2(settings, mapping, scale=SCALE)
    register_connector(settings.connect_url)
    env = {"REPLICATOR_MAPPING_PATH": str(mapping_file), "REPLICATOR_CONSUMER_GROUP": GROUP}
    worker = stack.start_worker(WORKER, env=env)
    yield mapping
    worker.stop()


def test_every_row_arrives_and_nothing_stays_parked(first_sync: Mapping, stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"consumer_group": GROUP})
    topics = source_topics(first_sync)
    state = wait_drained(settings, topics, timeout=300)
    assert state.zero, state
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        ledger = dict(
            v2.execute("SELECT outcome, sum(events)::bigint FROM replicator.ledger GROUP BY 1").fetchall()
        )
    assert ledger.get("parked", 0) > 1000, "the snapshot order should park most children first"
    assert ledger.get("released") == ledger.get("parked")


def test_v2_is_v1_through_the_mapping_after_the_first_sync(first_sync: Mapping, stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"consumer_group": GROUP})
    topics = source_topics(first_sync)
    assert wait_drained(settings, topics, timeout=300).zero
    assert v2_problems(settings, first_sync) == {}
