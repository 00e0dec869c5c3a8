"""The initial load (``replicator load``) into an EMPTY V2 while V1 keeps changing, then the stream.

V1 is written to concurrently for the whole load and a little after. The load reads V1 at its slot's
consistent point, parents first; Debezium then streams from that point (``snapshot.mode=no_data``).
If the snapshot and the slot did not meet at exactly one point, changes committed between them would
be lost (or, for a delete, a row would come back): the final comparison of V2 with V1 through the
mapping, after the worker drained, catches both. Reading parents first must leave almost nothing to
park, and whatever waits (self-references, the teams ↔ agents cycle) must be released by the load
itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import psycopg
import pytest

from bench.workload import ChangeGenerator
from replicator.connect.client import ConnectClient
from replicator.connect.reset import fresh_connector
from replicator.demo.load import SCHEMAS_DIR
from replicator.drain import wait_drained
from replicator.load.records import LOAD_PARTITION
from replicator.load.run import LoadReport, initial_load
from replicator.load.source import LoadError
from replicator.mapping.model import Mapping, load_mapping
from replicator.pipeline.deadletter import H_PARTITION, H_REASON
from replicator.stack.manager import Stack, WorkerProcess
from replicator.worker.app import source_topics
from tests.integration.kafka_util import read_topic
from tests.support.first_sync import mapped_topics, seed_with_empty_v2, v2_problems

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SCALE = 0.02
WORKER = 6
GROUP = "replicator-e2e-load"


@dataclass
class Loaded:
    mapping: Mapping
    report: LoadReport
    changes_during_load: int
    changes_after_load: int
    worker: WorkerProcess


class Writer(threading.Thread):
    """Commits small V1 transactions (updates, inserts, deletes) until stopped."""

    def __init__(self, conninfo: str) -> None:
        super().__init__(daemon=True)
        self.conninfo = conninfo
        self.stop = threading.Event()
        self.changed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as v1:
                generator = ChangeGenerator.load(v1, seed=11)
                while not self.stop.is_set():
                    changed, _ = generator.apply(v1, 20)
                    self.changed += changed
        except BaseException as exc:
            self.error = exc


@pytest.fixture(scope="module")
def loaded(stack: Stack) -> Iterator[Loaded]:
    settings = stack.settings
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    seed_with_empty_v2(settings, mapping, scale=SCALE)
    writer = Writer(settings.v1_admin.conninfo())
    writer.start()
    # Small batches: the load takes many transactions, so the writer commits between them.
    # Linked groups (self-references, the teams <-> agents cycle) in batches of 20 rows, not whole: their
    # rows then wait for parents in later batches, and the load must release every one of them.
    # The first process loads the tiny leading groups (and the linked ones) alone, the rest is shared.
    report = initial_load(settings, mapping, batch_rows=100, linked_batch_rows=20, alone_bytes=64 * 1024)
    during = writer.changed
    env = {"REPLICATOR_MAPPING_PATH": str(SCHEMAS_DIR / "mapping.yaml"), "REPLICATOR_CONSUMER_GROUP": GROUP}
    worker = stack.start_worker(WORKER, env=env)
    try:
        writer.join(timeout=3)  # a few more changes while the stream is live
        writer.stop.set()
        writer.join(timeout=30)
        assert writer.error is None, writer.error
        yield Loaded(mapping, report, during, writer.changed - during, worker)
    finally:
        writer.stop.set()
        worker.stop()


def test_the_load_leaves_nothing_parked(loaded: Loaded) -> None:
    report = loaded.report
    assert report.registered
    assert report.total_rows > 5000
    assert report.ledger.violation() is None
    totals = report.ledger.totals()
    # Parents first: only rows of linked groups wait (for parents in later batches), not the bulk of
    # children.
    assert 0 < totals.get("parked", 0) < report.total_rows // 20, totals
    assert totals.get("released") == totals.get("parked"), "the load releases what it parked"


def test_v1_changed_during_and_after_the_load(loaded: Loaded) -> None:
    assert loaded.changes_during_load > 0
    assert loaded.changes_after_load > 0


def test_v2_is_v1_through_the_mapping_after_load_and_stream(loaded: Loaded, stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"consumer_group": GROUP})
    topics = source_topics(loaded.mapping)
    state = wait_drained(settings, topics, timeout=180)
    assert state.zero, state
    assert v2_problems(settings, loaded.mapping) == {}


def test_dead_letters_of_the_load_say_where_they_came_from(loaded: Loaded, stack: Stack) -> None:
    settings = stack.settings
    messages = read_topic(settings.kafka_bootstrap, settings.dead_letter_topic)
    from_load = [m for m in messages if (m.headers or {}).get("replicator.origin") == b"initial-load"]
    assert loaded.report.dead_letters > 0
    assert len(from_load) == loaded.report.dead_letters
    for message in from_load:
        headers = message.headers or {}
        assert headers[H_PARTITION] == str(LOAD_PARTITION).encode()
        assert headers[H_REASON] == b"ORPHAN_FK"
        assert message.value["op"] == "r" and message.value["after"] is not None


def test_a_second_load_is_refused_once_the_connector_is_registered(loaded: Loaded, stack: Stack) -> None:
    assert ConnectClient(stack.settings.connect_url).status(stack.settings.connector_name) is not None
    with pytest.raises(LoadError, match="already registered"):
        initial_load(stack.settings, loaded.mapping)


def test_starting_over_after_the_stream_needs_its_state_reset(loaded: Loaded, stack: Stack) -> None:
    """Last in the module: it ends with a new load, the connector registered again and no worker.

    The operator's start-over: the connector, its offsets, its slot and its topics gone; the workers
    stopped (while one runs, the reset is refused). V1 then changes rows the stream had applied (their
    row versions sort above any snapshot's rows). A load over that state would skip them as stale, so
    it is refused; with ``reset_state`` the pipeline's state is emptied and the new snapshot's rows are
    V1's current ones."""
    settings, mapping = stack.settings.model_copy(update={"consumer_group": GROUP}), loaded.mapping
    fresh_connector(settings, topics=mapped_topics(mapping))
    with pytest.raises(LoadError, match="live member"):  # the module's worker still runs
        initial_load(settings, mapping, reset_state=True, register=False)
    loaded.worker.stop()
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        keys = v2.execute(
            "SELECT pk FROM replicator.row_version WHERE tbl = 'audit_logs' AND NOT deleted LIMIT 20"
        ).fetchall()
    ids = [int(orjson.loads(pk)[0][1]) for (pk,) in keys]
    assert ids, "the stream recorded versions of audit_logs rows"
    with psycopg.connect(settings.v1_admin.conninfo()) as v1:
        changed = v1.execute(
            "UPDATE public.audit_logs SET entity_type = entity_type || '-gap' WHERE id = ANY(%s)", [ids]
        ).rowcount
    assert changed == len(ids)

    with pytest.raises(LoadError, match=r"row versions .* --reset-state"):
        initial_load(settings, mapping, register=False)
    assert v2_problems(settings, mapping), "V1 changed while nothing streamed: V2 is behind"

    report = initial_load(settings, mapping, reset_state=True)
    assert report.registered
    assert report.ledger.violation() is None
    assert v2_problems(settings, mapping) == {}
