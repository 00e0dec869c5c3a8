"""``verify --continuous``: verification during the parallel run, without false alarms.

Each cycle checks every chunk of every table. A chunk whose checksums match passes. A chunk that
differs is a *suspect*: V2 may simply not have applied V1's latest changes yet. Its expected rows were
read in a V1 snapshot at position L; once replication has passed L (``fence.wait_passed``), V2 is read
again and diffed against the same expected rows, and then V1 is read again for the rows that still
differ. A difference is reported only if V1 did not change the row (its ``xmin``) nor what it expects
through the mapping (parents appearing or going) between the two V1 reads, no change of it is parked,
and V2's row version is not past L (``compare.split_in_flight``): V2, having applied everything up to
L with nothing newer to apply, must then show exactly what V1 showed. Other rows are "in flight" —
not reported, checked again by the next cycle. So a row updated continuously raises nothing, and a
row corrupted in V2 (V1 untouched) is reported at the first re-check.

Per-table results go to ``replicator.verification`` and to the ``replicator_verification_passed``
gauge, served on ``/metrics`` by a small HTTP server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from kafka.errors import KafkaError

from replicator.connect.config import load_connector
from replicator.cutover.checks import ready
from replicator.cutover.facts import readiness
from replicator.errors import TransientError
from replicator.mapping.model import Mapping
from replicator.metrics import Metrics
from replicator.settings import Settings
from replicator.verify.chunks import Chunk, checksum
from replicator.verify.compare import (
    ChunkResult,
    RowDiff,
    TableResult,
    compare_chunk,
    diff_rows,
    split_in_flight,
    unchanged_in_v1,
)
from replicator.verify.expected import TableSpec
from replicator.verify.fence import wait_passed
from replicator.verify.read import ExpectedRead, Reader, connect_v1, connect_v2
from replicator.verify.run import DEFAULT_CHUNK_ROWS, plan_table, resolve_tables, write_result

__all__ = ["Cycle", "run_continuous", "verify_cycle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Suspect:
    chunk: Chunk
    expected: ExpectedRead
    display: dict[str, dict[str, object]]


@dataclass(frozen=True, slots=True)
class Cycle:
    number: int
    results: list[TableResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def _topics(mapping: Mapping, table: str) -> list[str]:
    connector = load_connector()
    sources = sorted({m.source for m in mapping.mappings_for_target(table)})
    return [connector.table_topic(mapping.source_schema, s) for s in sources]


def verify_table_fenced(
    reader: Reader, settings: Settings, table: str, *, chunk_rows: int, fence_timeout: float
) -> TableResult:
    """One table, every difference re-checked past its fence (see the module docstring)."""
    spec = reader.spec(table)
    result = TableResult(table, unverified=spec.unverified)
    suspects: list[_Suspect] = []
    for chunk in plan_table(reader, table, chunk_rows):
        read = reader.read(spec, chunk)
        result.v1_lsn = read.expected.lsn
        outcome = compare_chunk(chunk.index, read.expected.tokens, read.actual)
        if outcome.matches:
            result.add(outcome, {})
        else:
            suspects.append(_Suspect(chunk, read.expected, read.display))
    if not suspects:
        return result
    fence = max(s.expected.lsn_value for s in suspects)
    if not wait_passed(settings, _topics(reader.mapping, table), fence, timeout=fence_timeout):
        result.error = f"replication did not pass the V1 position of the read within {fence_timeout:.0f}s"
        return result
    for s in suspects:
        outcome, in_flight = _recheck(reader, spec, s)
        result.add(outcome, s.display)
        result.in_flight += in_flight
    return result


def _recheck(reader: Reader, spec: TableSpec, s: _Suspect) -> tuple[ChunkResult, int]:
    """V2 again (replication has passed the first read), then V1 again for the rows that still differ.
    Returns the chunk with its confirmed differences, and how many were in flight."""
    first = s.expected
    actual, display, typed = reader.read_actual(spec, s.chunk)
    s.display.update({k: v for k, v in display.items() if k not in s.display})
    diffs = diff_rows(first.tokens, actual)
    confirmed: list[RowDiff] = []
    in_flight: list[RowDiff] = []
    if diffs:
        keys = [d.key for d in diffs]
        versions, parked = reader.in_flight_state(spec.table, keys)
        again = reader.read_expected(spec, s.chunk, keys=[typed.get(k) or first.keys[k] for k in keys])
        before = {k: v for k, v in first.state().items() if k in set(keys)}
        stable = unchanged_in_v1(before, again.state())
        confirmed, in_flight = split_in_flight(
            diffs, versions=versions, parked=parked, read_lsn=first.lsn_value, stable=stable
        )
    if confirmed:
        log.warning(
            "verify confirmed mismatch table=%s chunk=%d rows=%d lsn=%s",
            spec.table,
            s.chunk.index,
            len(confirmed),
            first.lsn,
        )
    outcome = ChunkResult(
        s.chunk.index, checksum(first.tokens.values()), checksum(actual.values()), tuple(confirmed)
    )
    return outcome, len(in_flight)


def verify_cycle(
    settings: Settings,
    mapping: Mapping,
    tables: Sequence[str],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    fence_timeout: float = 300.0,
    metrics: Metrics | None = None,
) -> list[TableResult]:
    """One continuous-mode pass over ``tables``; a database error marks the table ``error``."""
    results: list[TableResult] = []
    with connect_v1(settings.v1_admin.conninfo()) as v1, connect_v2(settings.v2_admin.conninfo()) as v2:
        reader = Reader(v1, v2, mapping)
        for table in tables:
            try:
                result = verify_table_fenced(
                    reader, settings, table, chunk_rows=chunk_rows, fence_timeout=fence_timeout
                )
            except psycopg.OperationalError as exc:
                result = TableResult(table, error=f"database error: {type(exc).__name__}")
            results.append(result)
            write_result(v2, result)
            if metrics is not None and result.error is None:
                metrics.set_verification(table, passed=result.passed)
    return results


def run_continuous(
    settings: Settings,
    mapping: Mapping,
    *,
    tables: Sequence[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    interval: float = 60.0,
    fence_timeout: float = 300.0,
    cycles: int | None = None,
    metrics: Metrics | None = None,
    on_cycle: Callable[[Cycle], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> Cycle | None:
    """Verify ``tables`` every ``interval`` seconds until ``stop`` is set (or ``cycles`` are done).
    Returns the last complete cycle. An unreachable database skips a cycle; it does not end the run."""
    names = resolve_tables(mapping, tables)
    stop = stop or threading.Event()
    last: Cycle | None = None
    number = 0
    while not stop.is_set() and (cycles is None or number < cycles):
        number += 1
        try:
            results = verify_cycle(
                settings, mapping, names, chunk_rows=chunk_rows, fence_timeout=fence_timeout, metrics=metrics
            )
        except psycopg.OperationalError as exc:
            log.warning("verify cycle %d skipped: database unreachable (%s)", number, type(exc).__name__)
        else:
            last = Cycle(number, results)
            on_cycle(last)
            if metrics is not None:
                _export_readiness(settings, mapping, metrics)
        if cycles is None or number < cycles:
            stop.wait(interval)
    return last


def _export_readiness(settings: Settings, mapping: Mapping, metrics: Metrics) -> None:
    """``replicator_cutover_ready``: 1 when every blocking check of ``cutover check`` (default limits)
    passes, after this cycle's results were written."""
    try:
        metrics.cutover_ready.set(1 if ready(readiness(settings, mapping)) else 0)
    except (psycopg.OperationalError, KafkaError, TransientError) as exc:
        log.warning("cutover readiness not refreshed: %s", type(exc).__name__)
