"""One batch of Kafka records → V2, in one transaction. Blocking code (run in a thread by the agent).

Order of effects for a batch: decode and map (pure) → plan → read V2 (and V1 when an orphan must be
confirmed) → resolve (pure) → write V2 data, versions, parked items and the ledger → produce and flush
dead letters → COMMIT V2. The agent acks the Kafka records only after this returns, so offsets are
committed only after the V2 transaction committed. A crash anywhere before COMMIT rolls V2 back and
the records are delivered again; the position guard makes the replay harmless.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import ChainMap, Counter
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from replicator import gctune
from replicator.errors import ReplicatorError, TerminalError, TransientError
from replicator.mapping.catalog import Catalog, read_catalog
from replicator.mapping.engine import MappingEngine, SourceRow, Upsert
from replicator.mapping.engine import Op as MapOp
from replicator.mapping.model import Mapping
from replicator.mapping.sql import copied_column
from replicator.pipeline.accounting import Ledger, Outcome
from replicator.pipeline.deadletter import (
    DeadLetterReason,
    Stage,
    dead_letter_record,
    failure_history,
    reason_for,
)
from replicator.pipeline.envelope import (
    TRUNCATE_OP,
    Heartbeat,
    Position,
    RowChange,
    Tombstone,
    Truncate,
    decode,
)
from replicator.pipeline.envelope import Op as EnvelopeOp
from replicator.pipeline.fk import FkGraph, canonical_key
from replicator.pipeline.planner import (
    Action,
    Positioned,
    Step,
    lookup_request,
    plan_batch,
)
from replicator.pipeline.resolver import resolve, tally, v1_checks
from replicator.pipeline.truncate import truncate_outcome
from replicator.sink.store import LaneMismatchError, Original, V2Store
from replicator.sink.v1 import v1_presence, v1_row_columns
from replicator.worker.dberrors import (
    ROW_REJECTIONS,
    DatabaseRefusedError,
    SinkConstraintError,
    describe,
    translate,
)
from replicator.worker.decoders import SourceDecoders

LANE_UNDONE: tuple[type[Exception], ...] = (*ROW_REJECTIONS, LaneMismatchError)
"""What undoes the present-parents lane's writes and sends its batch to the resolver."""
LANE_ROUNDS = 8
"""Rounds of the lane per batch at most: each stages what is still held again, so a chain deeper than
this inside one batch (a long referral chain) is left to the resolver, which takes it in one pass."""

log = logging.getLogger("replicator.worker")

HEARTBEAT_TABLES = frozenset({("replicator", "heartbeat")})
_MAP_OP = {op: MapOp(op.value) for op in EnvelopeOp}
Header = tuple[str, bytes]


@dataclass(slots=True)  # one per Kafka record, not frozen: see replicator.pipeline
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()


@dataclass
class BatchResult:
    ledger: Ledger
    progress: dict[str, tuple[int, int]]
    dead_letters: int
    duration_s: float
    steps: list[Step] = field(default_factory=list)


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class Sourced:
    """One source row to map, with where it came from."""

    row: SourceRow
    position: Position
    ts_us: int
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class SourceRecord:
    """A row read from V1 directly (``Processor.process_rows``) and how to build its Kafka-shaped
    original when a dead letter or a parked item needs one."""

    source: Sourced
    record: Callable[[], Record]


class _LazyOriginals(MappingABC[tuple[str, int, int], Original]):
    """Originals of a batch's records (or of ``process_rows`` rows, whose Kafka-shaped record is built
    too), made on first use: most rows never need theirs."""

    def __init__(self, rows: dict[tuple[str, int, int], Record | SourceRecord]) -> None:
        self._rows = rows
        self._built: dict[tuple[str, int, int], Original] = {}

    def __getitem__(self, key: tuple[str, int, int]) -> Original:
        built = self._built.get(key)
        if built is None:
            row = self._rows[key]
            record = row if isinstance(row, Record) else row.record()
            built = self._built[key] = Original(record.key, record.value, record.headers)
        return built

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


DeadLetterSink = Callable[[list[tuple[bytes | None, bytes | None, list[Header]]]], None]


class Processor:
    def __init__(
        self,
        *,
        mapping: Mapping,
        v1_catalog: Catalog,
        v2_catalog: Catalog,
        v2_conninfo: str,
        v1_conninfo: str,
        dead_letters: DeadLetterSink,
        connector_name: str,
        clock: Callable[[], float] = time.time,
        record_versions: bool = True,
        on_retry: Callable[[ReplicatorError], None] = lambda _error: None,
        wait_when_refused: bool = True,
        present_lane: bool = False,
    ) -> None:
        self.mapping = mapping
        self.engine = MappingEngine(mapping)
        self.graph = FkGraph(mapping)
        self.v2_catalog = v2_catalog
        self.decoders = SourceDecoders(
            mapping, v1_catalog, lambda: read_catalog(self._conn("v1"), mapping.source_schema)
        )
        self.v2_conninfo = v2_conninfo
        self.v1_conninfo = v1_conninfo
        self.dead_letters = dead_letters
        self.connector_name = connector_name
        self.clock = clock
        # False for the initial load: a loaded row sorts below every streamed change anyway, so it
        # needs no stored version (see replicator.load.run); the stream's changes record theirs.
        self.record_versions = record_versions
        self.on_retry = on_retry  # told of each failed attempt before its wait (health, metrics)
        # A worker waits for a refusal to be fixed (see worker.dberrors); the one-shot load stops on it.
        self.wait_when_refused = wait_when_refused
        # The load's: rows whose parents are in V2 already skip the resolver (``_present_lane``). Its
        # steps record no row version, so it goes only with ``record_versions`` off.
        if present_lane and record_versions:
            raise ValueError("present_lane is the initial load's: it needs record_versions=False")
        self.present_lane = present_lane
        self._v2: psycopg.Connection[tuple[Any, ...]] | None = None
        self._v1: psycopg.Connection[tuple[Any, ...]] | None = None

    @property
    def v1_catalog(self) -> Catalog:
        """V1's catalog as last read (at start-up, or again when a change did not fit it)."""
        return self.decoders.catalog

    # ------------------------------------------------------------------ connections

    def _conn(self, which: str) -> psycopg.Connection[tuple[Any, ...]]:
        current = self._v2 if which == "v2" else self._v1
        if current is None or current.closed or current.broken:
            try:
                # V1 is only read, and must never be left idle in a transaction: autocommit.
                current = (
                    psycopg.connect(self.v2_conninfo)
                    if which == "v2"
                    else psycopg.connect(self.v1_conninfo, autocommit=True)
                )
            except psycopg.OperationalError as exc:
                raise TransientError(f"{which} unreachable: {type(exc).__name__}") from None
            if which == "v2":
                self._v2 = current
            else:
                self._v1 = current
        return current

    def close(self) -> None:
        for conn in (self._v1, self._v2):
            if conn is not None and not conn.closed:
                conn.close()

    # ------------------------------------------------------------------ decode and map (pure)

    def _map(
        self, records: Sequence[Record], ledger: Ledger, progress: dict[str, tuple[int, int]]
    ) -> tuple[list[Positioned], _LazyOriginals, list[tuple[Record, BaseException, Stage]]]:
        items: list[Positioned] = []
        originals: dict[tuple[str, int, int], Record | SourceRecord] = {}
        failed: list[tuple[Record, BaseException, Stage]] = []
        for record in records:
            try:
                decoded = decode(
                    record.key, record.value, topic=record.topic, heartbeat_tables=HEARTBEAT_TABLES
                )
            except TerminalError as exc:
                table = record.topic.rsplit(".", 1)[-1]
                _dead_lettered(failed, ledger, record, exc, stage=Stage.DECODE, table=table, op="?")
                continue
            if isinstance(decoded, Tombstone):
                ledger.settle(record.topic.rsplit(".", 1)[-1], "tombstone", Outcome.SKIPPED_TOMBSTONE)
                continue
            if isinstance(decoded, Truncate):
                self._truncate(record, decoded, ledger, failed)
                continue
            if isinstance(decoded, Heartbeat):
                ledger.settle("heartbeat", "heartbeat", Outcome.SKIPPED_HEARTBEAT)
                _advance(progress, "heartbeat", decoded.commit_ts_us, decoded.lsn or 0)
                continue
            assert isinstance(decoded, RowChange)
            try:
                row = self.decoders.source_row(decoded, _MAP_OP[decoded.op])
            except TerminalError as exc:  # a change V1's catalog, even read again, does not fit
                _dead_lettered(
                    failed, ledger, record, exc, stage=Stage.DECODE, table=decoded.table, op=decoded.op.value
                )
                continue
            source = Sourced(
                row, decoded.position, decoded.commit_ts_us, record.topic, record.partition, record.offset
            )
            try:
                if self._map_one(source, items, ledger):
                    originals[(record.topic, record.partition, record.offset)] = record
            except TerminalError as exc:
                failed.append((record, exc, Stage.MAP))
        return items, _LazyOriginals(originals), failed

    def _truncate(
        self,
        record: Record,
        truncate: Truncate,
        ledger: Ledger,
        failed: list[tuple[Record, BaseException, Stage]],
    ) -> None:
        """Dead-lettered (``pipeline.truncate``), or skipped for a table no mapping reads."""
        error = truncate_outcome(truncate, self.mapping)
        if error is None:
            ledger.settle(truncate.table, TRUNCATE_OP, Outcome.SKIPPED_FILTERED)
            return
        _dead_lettered(failed, ledger, record, error, stage=Stage.MAP, table=truncate.table, op=TRUNCATE_OP)

    def _map_one(self, source: Sourced, items: list[Positioned], ledger: Ledger) -> bool:
        """Map one source row into ``items``; False when it yields no V2 change (settled as filtered).
        A ``TerminalError`` is settled as dead-lettered and re-raised for the caller's dead letter."""
        row = source.row
        try:
            changes = self.engine.apply(row)
        except TerminalError as exc:
            ledger.settle(row.table, row.op.value, Outcome.DEAD_LETTERED, reason=reason_for(exc).value)
            raise
        if not changes:
            ledger.settle(row.table, row.op.value, Outcome.SKIPPED_FILTERED)
            return False
        items.extend(
            [
                Positioned(
                    change, source.position, source.topic, source.partition, source.offset, source.ts_us
                )
                for change in changes
            ]
        )
        return True

    # ------------------------------------------------------------------ the batch

    def process(self, records: Sequence[Record]) -> BatchResult:
        """Apply a batch; retries transient failures with backoff until it succeeds (never drops it)."""
        with gctune.paused():
            return self._process(records)

    def _process(self, records: Sequence[Record]) -> BatchResult:
        started = time.monotonic()
        ledger, progress = Ledger(), {}  # type: ignore[var-annotated]
        items, originals, failed = self._map(records, ledger, progress)
        return self._apply(items, originals, failed, ledger=ledger, progress=progress, started=started)

    def process_rows(self, rows: Sequence[SourceRecord]) -> BatchResult:
        """Apply rows read from V1 itself (the initial load): values already Python, as ``RowDecoder``
        yields them. Same mapping, resolution and writes as ``process``; the Debezium-shaped original of a
        row (for its dead letter or parked item) is built only if one is needed."""
        with gctune.paused():
            return self._process_rows(rows)

    def _process_rows(self, rows: Sequence[SourceRecord]) -> BatchResult:
        started = time.monotonic()
        ledger, progress = Ledger(), {}  # type: ignore[var-annotated]
        items: list[Positioned] = []
        failed: list[tuple[Record, BaseException, Stage]] = []
        by_coordinates: dict[tuple[str, int, int], Record | SourceRecord] = {}
        for row in rows:
            try:
                if self._map_one(row.source, items, ledger):
                    by_coordinates[(row.source.topic, row.source.partition, row.source.offset)] = row
            except TerminalError as exc:
                failed.append((row.record(), exc, Stage.MAP))
        return self._apply(
            items, _LazyOriginals(by_coordinates), failed, ledger=ledger, progress=progress, started=started
        )

    def _apply(
        self,
        items: list[Positioned],
        originals: MappingABC[tuple[str, int, int], Original],
        failed: list[tuple[Record, BaseException, Stage]],
        *,
        ledger: Ledger,
        progress: dict[str, tuple[int, int]],
        started: float,
    ) -> BatchResult:
        now_us = int(self.clock() * 1_000_000)
        dead = [self._dead_letter(r, exc, stage, now_us) for r, exc, stage in failed]
        steps = self._with_retry(
            lambda: self._transaction(items, originals, dead, ledger, progress, expired=False)
        )
        return BatchResult(
            ledger, progress, len(dead) + _dead_count(steps), time.monotonic() - started, steps
        )

    def sweep(self, limit: int = 500) -> BatchResult:
        """Resolve parked items whose deadline passed (release, keep waiting, or apply the orphan policy)."""
        started = time.monotonic()
        ledger, progress = Ledger(), {}  # type: ignore[var-annotated]
        with gctune.paused():
            steps = self._with_retry(
                lambda: self._transaction([], {}, [], ledger, progress, expired=True, limit=limit)
            )
        return BatchResult(ledger, progress, _dead_count(steps), time.monotonic() - started, steps)

    def _with_retry(self, attempt: Callable[[], list[Step]]) -> list[Step]:
        delay = 0.5
        while True:
            try:
                return attempt()
            except (TransientError, psycopg.OperationalError) as exc:
                if isinstance(exc, DatabaseRefusedError) and not self.wait_when_refused:
                    raise
                self._report_retry(exc, delay)  # in a frame of its own: nothing here keeps exc alive
                if self._v2 is not None and not self._v2.closed:
                    self._v2.close()
            # The collector is paused for the batch (gctune), so during an outage it would stay paused
            # for as long as V2 is away: collect everything here, once the failed attempt (its
            # exception, traceback and frames) is released, before each wait.
            gc.collect()
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _report_retry(self, exc: Exception, delay: float) -> None:
        error = exc if isinstance(exc, TransientError) else translate(exc, "V2")  # type: ignore[arg-type]
        log.warning("batch not applied, retrying in %.1fs: %s", delay, describe(error))
        self.on_retry(error)

    def _transaction(
        self,
        items: list[Positioned],
        originals: MappingABC[tuple[str, int, int], Original],
        dead: list[tuple[bytes | None, bytes | None, list[Header]]],
        ledger: Ledger,
        progress: dict[str, tuple[int, int]],
        *,
        expired: bool,
        limit: int = 500,
    ) -> list[Step]:
        conn = self._conn("v2")
        store = V2Store(
            conn, self.v2_catalog, self.graph, refill=self._refill, record_versions=self.record_versions
        )
        now_us = int(self.clock() * 1_000_000)
        try:
            with conn.transaction():
                direct: list[Step] = []
                if self.present_lane:
                    direct, items = self._present_lane(store, items)
                steps = direct
                if items or expired:
                    plan = plan_batch(items, self.graph)
                    loaded = store.load_expired(now_us, limit) if expired else store.load_parked(plan.touched)
                    originals = ChainMap(originals, loaded.originals)  # type: ignore[arg-type]
                    lookups = store.lookups(lookup_request(plan, loaded.items), loaded.items, now_us)
                    resolved = resolve(plan, lookups)
                    checks = v1_checks(resolved)
                    if checks:
                        presence = v1_presence(self._conn("v1"), self.mapping, checks)
                        resolved = resolve(plan, replace(lookups, v1_presence=presence))
                    steps = direct + self._write(store, resolved, originals)
                batch_ledger = tally(steps)
                for step in steps:
                    if step.action is Action.APPLY and step.outcome is not None:
                        _advance(
                            progress, step.change.table, step.item.commit_ts_us, step.item.position.commit_lsn
                        )
                store.record(Ledger.of([ledger, batch_ledger]), progress)
                self.dead_letters(dead + self._step_dead_letters(steps, originals, now_us))
        except psycopg.Error as exc:
            raise translate(exc, self._database_of(exc)) from None
        ledger.merge(batch_ledger)
        return steps

    def _present_lane(self, store: V2Store, items: list[Positioned]) -> tuple[list[Step], list[Positioned]]:
        """The initial load's batches: read parents first, most rows find every parent in V2. While
        nothing is parked and no row of the batch's tables has a version (a load's V2 state), an upsert
        that is its row's only change in the batch is what the resolver calls ready once its parents are
        in V2, and V2 can say which are (``V2Store.upsert_present``, tables parents first): those are
        written at once, as applied. Rows whose parent came in the same batch (a self-reference, a
        split) are offered again while a round writes some, ``LANE_ROUNDS`` at most. Every other item
        goes on to the resolver, in batch order, with the written rows in V2 (an orphan, the two halves
        of a cycle). A rejected write, or a row the store cannot account for (``LaneMismatchError``),
        takes nothing this way: the savepoint undoes the lane and the resolver writes the batch. Never
        with row versions: these steps record none."""
        tables = {i.change.table for i in items}
        if not items or not store.lane_open(tables):
            return [], items
        per_row = Counter(item.row for item in items)
        pending: dict[str, list[tuple[int, Upsert]]] = {}
        for n, item in enumerate(items):
            change = item.change
            if type(change) is Upsert and per_row[item.row] == 1:
                pending.setdefault(change.table, []).append((n, change))
        written: list[int] = []
        try:
            with store.conn.transaction():
                for _round in range(LANE_ROUNDS):
                    if not pending:
                        break
                    before = len(written)
                    pending = self._lane_round(store, pending, written)
                    relinked = any(self.graph.parent_tables.get(t, frozenset()) & tables for t in pending)
                    if len(written) == before or not relinked:
                        break
        except LANE_UNDONE:
            store.rolled_back()
            return [], items
        done = set(written)
        steps = [Step(Action.APPLY, items[n], items[n].change, Outcome.APPLIED) for n in sorted(done)]
        return steps, [item for n, item in enumerate(items) if n not in done]

    def _lane_round(
        self, store: V2Store, pending: dict[str, list[tuple[int, Upsert]]], written: list[int]
    ) -> dict[str, list[tuple[int, Upsert]]]:
        """One round of the lane over ``pending`` (table → (index, upsert)), parents' tables first: the
        indexes written are added to ``written``; what is held back is returned."""
        held_back: dict[str, list[tuple[int, Upsert]]] = {}
        for table in sorted(pending, key=lambda t: (self.graph.rank.get(t, 0), t)):
            lane = pending[table]
            held = store.upsert_present(table, [change.values for _n, change in lane])
            written += [n for i, (n, _change) in enumerate(lane) if i not in held]
            if held:
                held_back[table] = [lane[i] for i in sorted(held)]
        return held_back

    def _database_of(self, exc: psycopg.Error) -> str:
        v1 = self._v1
        return "V1" if v1 is not None and exc.pgconn is v1.pgconn else "V2"

    def _refill(self, table: str, keys: list[tuple[object, ...]]) -> dict[str, dict[str, object]]:
        """Full V2 rows for ``keys`` of ``table``, mapped from V1's current rows (see V2Store.refill)."""
        conn = self._conn("v1")
        out: dict[str, dict[str, object]] = {}
        for source in self.mapping.mappings_for_target(table):
            columns = [copied_column(source, k) for k in source.key]
            v1_table = self.v1_catalog.table(source.source)
            if any(c is None for c in columns) or v1_table is None:
                continue
            statement = sql.SQL("SELECT {} FROM {}.{} WHERE ({}) IN (SELECT * FROM unnest({}))").format(
                v1_row_columns(v1_table),
                sql.Identifier(self.mapping.source_schema),
                sql.Identifier(source.source),
                sql.SQL(", ").join(sql.Identifier(c) for c in columns if c),
                sql.SQL(", ").join(sql.Placeholder() for _ in columns),
            )
            cur = conn.execute(statement, [[k[i] for k in keys] for i in range(len(columns))])
            names = [d.name for d in cur.description or ()]
            for record in cur:
                row = dict(zip(names, record, strict=True))
                for change in self.engine.apply(SourceRow(source.source, MapOp.READ, None, row)):
                    if isinstance(change, Upsert) and change.table == table:
                        out[canonical_key(change.key)] = dict(change.values)
        return out

    def _write(
        self, store: V2Store, steps: list[Step], originals: MappingABC[tuple[str, int, int], Original]
    ) -> list[Step]:
        """Set-based write; if V2 rejects something, isolate it row by row and dead-letter the culprits."""
        try:
            with store.conn.transaction():
                store.write(steps, originals)
            return steps
        except ROW_REJECTIONS as exc:
            log.warning("set-based write rejected (%s); isolating rows", describe(exc))
            store.rolled_back()
        out: list[Step] = []
        for step in steps:
            try:
                with store.conn.transaction():
                    store.write([step], originals)
                out.append(step)
            except ROW_REJECTIONS as exc:
                store.rolled_back()
                diag = exc.diag
                error = SinkConstraintError(step.change.table, diag.sqlstate, diag.constraint_name)
                out.append(
                    replace(
                        step,
                        action=Action.DEAD_LETTER,
                        outcome=Outcome.DEAD_LETTERED,
                        reason=DeadLetterReason.SINK_CONSTRAINT,
                        missing_ref=str(error),
                    )
                )
        return out

    def _step_dead_letters(
        self, steps: Sequence[Step], originals: MappingABC[tuple[str, int, int], Original], now_us: int
    ) -> list[tuple[bytes | None, bytes | None, list[Header]]]:
        out = []
        for step in steps:
            if step.action is not Action.DEAD_LETTER:
                continue
            item = step.item
            original = originals.get((item.topic, item.partition, item.offset), Original(None, None))
            replay_count, first_failure_us = failure_history(original.headers, now_us)
            out.append(
                dead_letter_record(
                    original.key,
                    original.value,
                    list(original.headers),
                    reason=step.reason or DeadLetterReason.ORPHAN_FK,
                    stage=Stage.RESOLVE_FK if step.reason is DeadLetterReason.ORPHAN_FK else Stage.APPLY,
                    topic=item.topic,
                    partition=item.partition,
                    offset=item.offset,
                    position=(item.position.commit_lsn, item.position.lsn),
                    missing_ref=step.missing_ref,
                    replay_count=replay_count,
                    first_failure_us=first_failure_us,
                    connector_name=self.connector_name,
                    task_id="worker",
                )
            )
        return out

    def _dead_letter(
        self, record: Record, exc: BaseException, stage: Stage, now_us: int
    ) -> tuple[bytes | None, bytes | None, list[Header]]:
        replay_count, first_failure_us = failure_history(record.headers, now_us)
        return dead_letter_record(
            record.key,
            record.value,
            list(record.headers),
            reason=reason_for(exc),
            stage=stage,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=exc,
            replay_count=replay_count,
            first_failure_us=first_failure_us,
            connector_name=self.connector_name,
            task_id="worker",
        )


def _dead_lettered(
    failed: list[tuple[Record, BaseException, Stage]],
    ledger: Ledger,
    record: Record,
    error: TerminalError,
    *,
    stage: Stage,
    table: str,
    op: str,
) -> None:
    """A record that yields no change: counted as dead-lettered, its dead letter queued for the batch."""
    ledger.settle(table, op, Outcome.DEAD_LETTERED, reason=reason_for(error).value)
    failed.append((record, error, stage))


def _advance(progress: dict[str, tuple[int, int]], name: str, ts_us: int, lsn: int) -> None:
    ts, old = progress.get(name, (0, 0))
    progress[name] = (max(ts, ts_us), max(old, lsn))


def _dead_count(steps: Sequence[Step]) -> int:
    return sum(1 for s in steps if s.action is Action.DEAD_LETTER)


__all__ = [
    "BatchResult",
    "Processor",
    "Record",
    "ReplicatorError",
    "SinkConstraintError",
    "SourceRecord",
    "Sourced",
]
