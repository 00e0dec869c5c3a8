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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg

from replicator import gctune
from replicator.connect.client import ConnectClient
from replicator.connect.config import load_connector
from replicator.connect.register import register_connector
from replicator.connect.reset import drop_idle_slot
from replicator.load.order import linked, load_groups
from replicator.load.records import RecordBuilder
from replicator.load.source import (
    Conn,
    LoadError,
    Share,
    Snapshot,
    exported_snapshot,
    read_table,
    snapshot_reader,
)
from replicator.mapping.catalog import read_catalog
from replicator.mapping.model import Mapping
from replicator.pipeline.accounting import Ledger
from replicator.settings import Settings
from replicator.stack.process import peak_rss_mb
from replicator.worker.deadletters import DeadLetterProducer
from replicator.worker.processor import Processor, SourceRecord

__all__ = ["LoadReport", "initial_load", "without_park_timeouts"]

Progress = Callable[[str], None]
SETTLE_ROUNDS = 50
SETTLE_LIMIT = 5000
LINKED_BATCH_ROWS = 20_000
"""Rows per batch of a linked group (``load.order.linked``): one batch resolves them all side by side."""


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


def without_park_timeouts(mapping: Mapping) -> Mapping:
    """The mapping with every park timeout zero: a missing parent is asked of V1 at once."""
    return mapping.model_copy(
        update={
            "defaults": mapping.defaults.model_copy(update={"park_timeout": timedelta(0)}),
            "relationships": tuple(
                r.model_copy(update={"park_timeout": None}) for r in mapping.relationships
            ),
        }
    )


def initial_load(
    settings: Settings,
    mapping: Mapping,
    *,
    batch_rows: int = 5000,
    linked_batch_rows: int = LINKED_BATCH_ROWS,
    processes: int = 2,
    replace_slot: bool = False,
    register: bool = True,
    progress: Progress = lambda _line: None,
) -> LoadReport:
    """See the module docstring. ``processes`` load in parallel, each the rows whose key hashes to it,
    all from the same snapshot; every process finishes a group before any starts the next. A linked
    group (``load.order.linked``) is read whole by the first process, ``linked_batch_rows`` at a time."""
    started = time.monotonic()
    connector = load_connector()
    slot = connector.config["slot.name"]
    if ConnectClient(settings.connect_url).status(connector.name) is not None:
        raise LoadError(
            f"connector {connector.name} is already registered, so V2 is replicated from slot {slot}:"
            " the initial load runs before the connector's first start. To start over, delete the"
            " connector, its slot and its topics"
        )
    if replace_slot:
        _drop_idle_slot(settings, slot)
    groups = load_groups(mapping)
    with exported_snapshot(settings.v1_replication.conninfo(), slot) as snapshot:
        report = LoadReport(slot=slot, consistent_point=snapshot.lsn_text, groups=groups)
        progress(f"slot {slot} created at {snapshot.lsn_text}; reading V1 there with {processes} processes")
        jobs = [
            _Job(settings, mapping, snapshot, groups, Share(k, processes), batch_rows, linked_batch_rows)
            for k in range(processes)
        ]
        parts = _run_jobs(jobs, progress) if processes > 1 else [_load_share(jobs[0], None, progress)]
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


@dataclass(frozen=True)
class _Job:
    """Everything one loading process needs; picklable, for a spawned process."""

    settings: Settings
    mapping: Mapping
    snapshot: Snapshot
    groups: list[tuple[str, ...]]
    share: Share
    batch_rows: int
    linked_batch_rows: int


@dataclass
class _Part:
    rows: dict[str, int] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    dead_letters: int = 0
    peak_rss_mb: float = 0.0


class _Loader:
    """A Processor for the load (every park timeout zero) and its dead-letter producer."""

    def __init__(self, settings: Settings, mapping: Mapping) -> None:
        with psycopg.connect(settings.v1_replication.conninfo()) as v1:
            self.v1_catalog = read_catalog(v1, mapping.source_schema)
        with psycopg.connect(settings.v2_writer.conninfo()) as v2:
            v2_catalog = read_catalog(v2, mapping.target_schema)
        self.dead_letters = DeadLetterProducer(settings.kafka_bootstrap, settings.dead_letter_topic)
        self.processor = Processor(
            mapping=without_park_timeouts(mapping),
            v1_catalog=self.v1_catalog,
            v2_catalog=v2_catalog,
            v2_conninfo=settings.v2_writer.conninfo(),
            v1_conninfo=settings.v1_replication.conninfo(),
            dead_letters=self.dead_letters.send_all,
            connector_name=settings.connector_name,
            record_versions=False,
        )

    def __enter__(self) -> _Loader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.processor.close()
        self.dead_letters.close()


def _load_share(job: _Job, barrier: Any, progress: Progress) -> _Part:
    """This process's share of every group, in order; with a ``barrier``, at the end of each group wait
    until every process has finished it."""
    part = _Part()
    with (
        _Loader(job.settings, job.mapping) as loader,
        snapshot_reader(job.settings.v1_replication.conninfo(), job.snapshot) as reader,
    ):
        share = _ShareReader(job, loader, reader, part)
        gctune.tune()
        for group in job.groups:
            if not linked(job.mapping, group):
                for name in group:
                    for records in share.read(name, job.share, job.batch_rows):
                        share.process(records)
            elif job.share.index == 0:  # a linked group is read whole by the first process
                pending: list[SourceRecord] = []
                for name in group:
                    for records in share.read(name, Share(0, 1), job.linked_batch_rows):
                        pending += records
                        if len(pending) >= job.linked_batch_rows:
                            share.process(pending)
                            pending = []
                if pending:
                    share.process(pending)
            # Rows waiting for a row of their own group that another batch (or process) wrote after they
            # parked are released now, before the next group's children look for them.
            if barrier is not None:
                barrier.wait()
            if job.share.index == 0:
                _settle(loader.processor, part, progress)
                progress(f"loaded {', '.join(group)}")
            if barrier is not None:
                barrier.wait()
    return part


class _ShareReader:
    """Reads V1 tables at the snapshot into records and applies them, counting into ``part``."""

    def __init__(self, job: _Job, loader: _Loader, reader: Conn, part: _Part) -> None:
        self.job, self.loader, self.reader, self.part = job, loader, reader, part
        self.connector = load_connector()

    def read(self, name: str, share: Share, batch_rows: int) -> Iterator[list[SourceRecord]]:
        schema = self.job.mapping.source_schema
        table = self.loader.v1_catalog.table(name)
        if table is None:
            raise LoadError(f"V1 has no table {schema}.{name}, which the mapping reads")
        builder = RecordBuilder(
            table,
            schema=schema,
            topic=self.connector.table_topic(schema, name),
            connector=self.connector.topic_prefix,
            lsn=self.job.snapshot.lsn,
            taken_us=self.job.snapshot.taken_us,
            first_offset=share.index,
            offset_step=share.count,
        )
        for rows in read_table(self.reader, schema, table, batch_rows=batch_rows, share=share):
            self.part.rows[name] = self.part.rows.get(name, 0) + len(rows)
            yield builder.sources(rows)

    def process(self, records: list[SourceRecord]) -> None:
        result = self.loader.processor.process_rows(records)
        self.part.ledger.merge(result.ledger)
        self.part.dead_letters += result.dead_letters


def _run_jobs(jobs: list[_Job], progress: Progress) -> list[_Part]:
    """One spawned process per job, their progress relayed; any failure stops them all."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    messages: Any = context.Queue()
    children = [context.Process(target=_child, args=(job, barrier, messages), daemon=True) for job in jobs]
    for child in children:
        child.start()
    parts: list[_Part] = []
    failure: str | None = None
    try:
        while len(parts) < len(jobs) and failure is None:
            try:
                kind, payload = messages.get(timeout=1.0)
            except queue.Empty:
                if any(c.exitcode not in {None, 0} for c in children):
                    failure = "a loading process died without a report"
                continue
            if kind == "progress":
                progress(payload)
            elif kind == "part":
                parts.append(payload)
            else:
                failure = payload
    finally:
        if failure is not None:
            barrier.abort()
            for child in children:
                child.terminate()
        for child in children:
            child.join(timeout=30)
    if failure is not None:
        raise LoadError(
            f"the initial load failed: {failure}. What was applied stays; rerun with --replace-slot to"
            " load again from a new snapshot (its rows overwrite the older ones)"
        )
    return parts


def _child(job: _Job, barrier: Any, messages: Any) -> None:
    try:
        part = _load_share(job, barrier, lambda line: messages.put(("progress", line)))
    except threading.BrokenBarrierError:
        messages.put(("error", f"process {job.share.index}: another loading process failed"))
    except Exception as exc:
        barrier.abort()
        messages.put(("error", f"process {job.share.index}: {type(exc).__name__}: {exc}"))
    else:
        part.peak_rss_mb = peak_rss_mb(os.getpid())
        messages.put(("part", part))


def _settle(processor: Processor, report: _Part, progress: Progress) -> None:
    """Re-resolve what the load left parked, until a round releases nothing. A row parks when its parent
    is in its own group but not yet written (a self-reference, the other half of a cycle, a row of
    another process's share), and a batch releases only the waiters it finds parked (a bounded closure,
    ``V2Store._closure``); what parked after its parent arrived is released here. What still waits has
    a parent in V1 that is not coming to V2 (an orphan itself, or filtered out): the workers' sweep
    keeps it, as it would any parked row."""
    for _round in range(SETTLE_ROUNDS):
        result = processor.sweep(limit=SETTLE_LIMIT)
        report.ledger.merge(result.ledger)
        report.dead_letters += result.dead_letters
        released = result.ledger.totals().get("released", 0)
        if not released:
            break
        progress(f"released {released:,} rows whose parents were written after them")


def _drop_idle_slot(settings: Settings, slot: str) -> None:
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        if not drop_idle_slot(v1, slot):
            raise LoadError(f"replication slot {slot} is in use by a running client; stop it first")
