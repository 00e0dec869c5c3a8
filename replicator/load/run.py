"""The initial load: V1 at one consistent point → V2, parents first, then Debezium from that point on.

1. Refuse if the connector is registered: its slot already streams V2's changes.
2. Create the connector's slot with an exported snapshot (``source.exported_snapshot``).
3. Read every mapped V1 table under that snapshot in FK order (``order.load_groups``), turn the rows
   into snapshot records (``records``) and apply them with the worker's ``Processor``: the same mapping,
   FK resolution, orphan policies, dead letters and ledger as the stream.
4. Register the connector with ``snapshot.mode=no_data``: Debezium streams from the consistent point.

Why this instead of Debezium's own snapshot: Debezium snapshots tables in name order, so children
reach the workers before their parents and wait parked (hundreds of thousands of rows at the demo's
scale), and every row goes through Kafka once more. Read parents first, a child's parent is already in
V2 — apart from rows that point at a later row of their own table or across the teams ↔ agents cycle,
which wait briefly and are released as soon as the rest of their group is applied.

A missing parent needs no park timeout here: the snapshot is consistent, so a parent that is not in V2
after its table was loaded is asked of V1 at once. If V1 lacks it, it is an orphan and its policy
applies now; if V1 has it (inserted after the snapshot), the child waits for it like any parked row.
So the load runs with every park timeout set to zero.

Loaded rows store no row version. The version guard orders changes of one row; a loaded row is older
than every change the slot streams, so any streamed change may overwrite it, and the first one records
its version (and a delete its marker) as usual. A load rerun from a newer snapshot may overwrite it
too. Skipping the version rows saves a write per loaded row.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from replicator.connect.client import ConnectClient
from replicator.connect.config import load_connector
from replicator.connect.register import register_connector
from replicator.connect.reset import drop_idle_slot
from replicator.dlq.topic import DeadLetterTopic
from replicator.kafka_util import ensure_topics, group_members
from replicator.load.order import ALONE_BYTES, alone, load_groups
from replicator.load.share import (
    LINKED_BATCH_ROWS,
    Job,
    Part,
    Progress,
    failure,
    load_share,
    run_share,
    without_park_timeouts,
)
from replicator.load.source import LoadError, Share, exported_snapshot, table_sizes
from replicator.mapping.live import checked_catalogs
from replicator.mapping.model import Mapping
from replicator.pipeline.accounting import Ledger
from replicator.settings import Settings
from replicator.sink.state import stream_state, truncate_state
from replicator.stack.process import peak_rss_mb

__all__ = ["MAX_PROCESSES", "LoadReport", "default_processes", "initial_load", "without_park_timeouts"]


@dataclass
class LoadReport:
    slot: str
    consistent_point: str
    groups: list[tuple[str, ...]]
    rows: dict[str, int] = field(default_factory=dict)  # V1 table → rows read
    ledger: Ledger = field(default_factory=Ledger)
    dead_letters: int = 0
    seconds: float = 0.0
    registered: bool = False
    peak_rss_mb: float = 0.0  # the largest loading process (this one or a spawned share)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


MAX_PROCESSES = 8
"""The default number of loading processes is the CPUs the command may use, up to this."""


def default_processes() -> int:
    """One loading process per CPU this process may run on (its affinity, so ``taskset`` and container
    CPU sets count), at most ``MAX_PROCESSES``: each process is CPU-bound Python that V2's and V1's
    backends share the cores with; on two cores two processes load fastest (three took 30.5 s against
    26.6 s), on one core a single process saves the spawn."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_PROCESSES))


def initial_load(
    settings: Settings,
    mapping: Mapping,
    *,
    batch_rows: int = 5000,
    linked_batch_rows: int = LINKED_BATCH_ROWS,
    alone_bytes: int = ALONE_BYTES,
    processes: int | None = None,
    replace_slot: bool = False,
    reset_state: bool = False,
    register: bool = True,
    progress: Progress = lambda _line: None,
    mapping_source: str | None = None,
) -> LoadReport:
    """See the module docstring. ``processes`` load in parallel, each the rows whose key hashes to it,
    all from the same snapshot; every process finishes a group before any starts the next. A linked
    group (``load.order.linked``) is read whole by the first process, ``linked_batch_rows`` at a time;
    so are the leading groups that are linked or smaller than ``alone_bytes`` (``load.order.alone``),
    while the other processes start. ``reset_state`` empties the pipeline's state in V2 first, which
    the load refuses to run over (``sink.state``). The mapping is checked against V1's and V2's catalogs
    first (``mapping_source`` names its file in the error; by default the settings' mapping path)."""
    started = time.monotonic()
    processes = default_processes() if processes is None else processes
    connector = load_connector()
    slot = connector.slot
    _check_mapping(settings, mapping, mapping_source or str(settings.mapping_path), progress)
    if ConnectClient(settings.connect_url).status(connector.name) is not None:
        raise LoadError(
            f"connector {connector.name} is already registered, so V2 is replicated from slot {slot}:"
            " the initial load runs before the connector's first start. To start over, stop the workers,"
            " delete the connector, its offsets, its slot and its topics, then load with --reset-state"
        )
    _check_state(settings, mapping, reset=reset_state)
    ensure_topics(settings, [settings.dead_letter_topic])  # before its first dead letter creates it
    if replace_slot:
        _drop_idle_slot(settings, slot)
    groups = load_groups(mapping)
    solo = 0
    if processes > 1:
        names = [name for group in groups for name in group]
        sizes = table_sizes(settings.v1_replication.conninfo(), mapping.source_schema, names)
        solo = alone(mapping, groups, sizes, alone_bytes)
    with exported_snapshot(settings.v1_replication.conninfo(), slot) as snapshot:
        report = LoadReport(slot=slot, consistent_point=snapshot.lsn_text, groups=groups)
        progress(f"slot {slot} created at {snapshot.lsn_text}; reading V1 there with {processes} processes")
        jobs = [
            Job(settings, mapping, snapshot, groups, Share(k, processes), batch_rows, linked_batch_rows, solo)
            for k in range(processes)
        ]
        parts = _run_jobs(jobs, progress) if processes > 1 else [load_share(jobs[0], None, progress)]
    report.peak_rss_mb = max([peak_rss_mb(os.getpid()), *(part.peak_rss_mb for part in parts)])
    for part in parts:
        for table, n in part.rows.items():
            report.rows[table] = report.rows.get(table, 0) + n
        report.ledger.merge(part.ledger)
        report.dead_letters += part.dead_letters
    if register:
        register_connector(settings.connect_url, overrides={"snapshot.mode": "no_data"})
        report.registered = True
        progress(f"{connector.name} registered: streaming from {report.consistent_point}")
    report.seconds = time.monotonic() - started
    return report


def _run_jobs(jobs: list[Job], progress: Progress) -> list[Part]:
    """The first job in this process, one spawned process per other job; any failure stops them all.

    This process starts loading at once, with the leading groups it loads alone (``Job.alone``); the
    spawned ones join at the first group they share, after their start-up (an interpreter and the
    pipeline's imports: about a second, which no longer delays the first group)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    messages: Any = context.Queue()
    children = [
        context.Process(target=run_share, args=(job, barrier, messages), daemon=True) for job in jobs[1:]
    ]
    for child in children:
        child.start()
    relay = _Relay(children, messages, barrier, progress)
    own: Part | None = None
    broken = False
    try:
        own = load_share(jobs[0], barrier, progress)
    except threading.BrokenBarrierError:
        broken = True  # a spawned process failed: the relay receives its report
    except Exception as exc:
        relay.fail(failure(0, exc))
    finally:
        if own is None and not broken and relay.failure is None:
            relay.fail("the load was interrupted")
        relay.join()  # it ends with every part, or with a failure (its own included: see _Relay._run)
        if relay.failure is not None:
            for child in children:
                child.terminate()
        for child in children:
            child.join(timeout=30)
    if relay.failure is not None or own is None:
        raise LoadError(
            f"the initial load failed: {relay.failure}. What was applied stays; rerun with --replace-slot"
            " to load again from a new snapshot (its rows overwrite the older ones)"
        )
    return [own, *relay.parts]


class _Relay:
    """A thread that relays the spawned processes' progress and collects their parts; the first failure
    (reported, a process dead without a report, or this process's own) breaks the barrier, which stops
    every process."""

    def __init__(self, children: list[Any], messages: Any, barrier: Any, progress: Progress) -> None:
        self.children, self.messages, self.barrier, self.progress = children, messages, barrier, progress
        self.parts: list[Part] = []
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="load-relay", daemon=True)
        self._thread.start()

    def fail(self, reason: str) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = reason
        self.barrier.abort()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            self._relay()
        except BaseException as exc:  # a dead relay would leave this process waiting at the barrier
            self.fail(f"relaying the loading processes' reports: {type(exc).__name__}")

    def _relay(self) -> None:
        while len(self.parts) < len(self.children) and self.failure is None:
            try:
                kind, payload = self.messages.get(timeout=0.5)
            except queue.Empty:
                if any(c.exitcode not in {None, 0} for c in self.children):
                    self.fail("a loading process died without a report")
                continue
            if kind == "progress":
                self.progress(payload)
            elif kind == "part":
                self.parts.append(payload)
            else:
                self.fail(payload)


def _check_mapping(settings: Settings, mapping: Mapping, source: str, progress: Progress) -> None:
    """Stop before the slot exists when the mapping names what V1 or V2 lacks."""
    for finding in checked_catalogs(settings, mapping, source=source).warnings:
        progress(str(finding))


def _check_state(settings: Settings, mapping: Mapping, *, reset: bool) -> None:
    """Refuse to load over an earlier stream's state (see ``sink.state``), or empty it with ``reset``."""
    if reset and (members := group_members(settings.kafka_bootstrap, settings.consumer_group)):
        raise LoadError(
            f"consumer group {settings.consumer_group} has {members} live member(s): stop the workers"
            " (replicator worker stop) before --reset-state, or they would write the old stream's"
            " state into the new one (a worker killed without leaving counts until its session times out)"
        )
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        if reset:
            truncate_state(v2)
            DeadLetterTopic(settings.kafka_bootstrap, settings.dead_letter_topic).start_generation()
            return
        state = stream_state(v2, sorted({t.target for t in mapping.tables}))
    if state.versions or state.parked:
        raise LoadError(
            f"V2 holds an earlier stream's state for the mapping's tables: {state.versions:,} row versions"
            f" and {state.parked:,} parked changes. They sort above every row of a new snapshot, so this"
            " load would skip the rows the stream touched as stale, even where V1 changed since. To start"
            " over (workers stopped; the connector, its offsets, its slot and its topics deleted), rerun"
            " with --reset-state: it empties the pipeline's state (row versions, parked changes, the"
            " books, progress, verification results). Do not replay dead letters from before the new"
            " snapshot afterwards: no row version would hold their older values back"
        )


def _drop_idle_slot(settings: Settings, slot: str) -> None:
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        if not drop_idle_slot(v1, slot):
            raise LoadError(f"replication slot {slot} is in use by a running client; stop it first")
