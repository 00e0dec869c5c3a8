"""One loading process's work: its share of every group (a linked group whole, by the first process;
the leading groups ``Job.alone`` whole by the first process, before the others join), applied with the
workers' ``Processor``. This module is what a spawned loading process imports (keep
it light: the parent's connector and slot handling live in ``load.run``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg

from replicator import gctune
from replicator.connect.config import load_connector
from replicator.load.order import linked
from replicator.load.records import RecordBuilder
from replicator.load.source import Conn, LoadError, Share, Snapshot, read_table, snapshot_reader
from replicator.mapping.catalog import read_catalog
from replicator.mapping.model import Mapping
from replicator.pipeline.accounting import Ledger
from replicator.pipeline.deadletter import scrub_message
from replicator.settings import Settings
from replicator.stack.process import peak_rss_mb
from replicator.worker.deadletters import DeadLetterProducer
from replicator.worker.processor import Processor, SourceRecord

__all__ = [
    "LINKED_BATCH_ROWS",
    "Job",
    "Part",
    "Progress",
    "failure",
    "load_share",
    "run_share",
    "without_park_timeouts",
]

Progress = Callable[[str], None]
SETTLE_ROUNDS = 50
SETTLE_LIMIT = 5000
LINKED_BATCH_ROWS = 20_000
"""Rows per batch of a linked group (``load.order.linked``): one batch resolves them all side by side."""


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


@dataclass(frozen=True)
class Job:
    """Everything one loading process needs; picklable, for a spawned process."""

    settings: Settings
    mapping: Mapping
    snapshot: Snapshot
    groups: list[tuple[str, ...]]
    share: Share
    batch_rows: int
    linked_batch_rows: int
    alone: int = 0
    """Leading groups the first process loads whole, alone (``load.order.alone``); the others wait at one
    barrier after them."""


@dataclass
class Part:
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
            wait_when_refused=False,
            # Parents first: most rows find every parent in V2 or in their own batch.
            present_lane=True,
        )

    def __enter__(self) -> _Loader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.processor.close()
        self.dead_letters.close()


def load_share(job: Job, barrier: Any, progress: Progress) -> Part:
    """This process's share of every group, in order; with a ``barrier``, at the end of each shared group
    wait until every process has finished it."""
    part = Part()
    with (
        _Loader(job.settings, job.mapping) as loader,
        snapshot_reader(job.settings.v1_replication.conninfo(), job.snapshot) as reader,
    ):
        share = _ShareReader(job, loader, reader, part)
        gctune.tune()
        first = job.share.index == 0
        for group in job.groups[: job.alone] if first else ():
            if barrier is not None and barrier.broken:  # another process failed: stop before the next group
                raise threading.BrokenBarrierError
            batch = job.linked_batch_rows if linked(job.mapping, group) else job.batch_rows
            share.whole(group, batch)
            _settle(loader.processor, part, progress)
            progress(f"loaded {', '.join(group)}")
        if job.alone and barrier is not None:
            barrier.wait()  # the others join here
        for group in job.groups[job.alone :]:
            if not linked(job.mapping, group):
                for name in group:
                    for records in share.read(name, job.share, job.batch_rows):
                        share.process(records)
            elif first:  # a linked group is read whole by the first process
                share.whole(group, job.linked_batch_rows)
            # Rows waiting for a row of their own group that another batch (or process) wrote after they
            # parked are released now, before the next group's children look for them.
            if barrier is not None:
                barrier.wait()
            if first:
                _settle(loader.processor, part, progress)
                progress(f"loaded {', '.join(group)}")
            if barrier is not None:
                barrier.wait()
    return part


class _ShareReader:
    """Reads V1 tables at the snapshot into records and applies them, counting into ``part``."""

    def __init__(self, job: Job, loader: _Loader, reader: Conn, part: Part) -> None:
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

    def whole(self, group: tuple[str, ...], batch_rows: int) -> None:
        """Every row of ``group``, ``batch_rows`` per batch (a batch may span its tables)."""
        pending: list[SourceRecord] = []
        for name in group:
            for records in self.read(name, Share(0, 1), batch_rows):
                pending += records
                if len(pending) >= batch_rows:
                    self.process(pending)
                    pending = []
        if pending:
            self.process(pending)

    def process(self, records: list[SourceRecord]) -> None:
        result = self.loader.processor.process_rows(records)
        self.part.ledger.merge(result.ledger)
        self.part.dead_letters += result.dead_letters


def run_share(job: Job, barrier: Any, messages: Any) -> None:
    """A spawned loading process: its share, reported on ``messages`` (progress, its part, or an error)."""
    try:
        part = load_share(job, barrier, lambda line: messages.put(("progress", line)))
    except threading.BrokenBarrierError:
        messages.put(("error", f"process {job.share.index}: another loading process failed"))
    except Exception as exc:
        barrier.abort()
        messages.put(("error", failure(job.share.index, exc)))
    else:
        part.peak_rss_mb = peak_rss_mb(os.getpid())
        messages.put(("part", part))


def failure(index: int, exc: BaseException) -> str:
    """Which loading process failed and how, without row values (``scrub_message``): the text reaches
    the terminal and the logs."""
    return f"process {index}: {type(exc).__name__}: {scrub_message(exc)}"


def _settle(processor: Processor, report: Part, progress: Progress) -> None:
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
