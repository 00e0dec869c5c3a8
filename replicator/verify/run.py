"""One verification pass over V2 tables: plan chunks, compare each (counts, checksums, then a row diff
of the chunks that differ), record results in ``replicator.verification`` and the resume state.

Logs and output carry tables, counts, keys and column names — never row values.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from replicator.errors import ConfigError
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.verify import sql as q
from replicator.verify.chunks import Chunk, merge_boundaries, plan_chunks
from replicator.verify.compare import TableResult, compare_chunk
from replicator.verify.read import Reader, connect_v1, connect_v2
from replicator.verify.state import RunState, state_path

__all__ = ["DEFAULT_CHUNK_ROWS", "Progress", "VerifyRun", "mapping_digest", "resolve_tables", "verify"]

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 5000
Progress = Callable[[str, int, int], None]


def mapping_digest(mapping: Mapping) -> str:
    return hashlib.sha256(mapping.model_dump_json(by_alias=True).encode()).hexdigest()


def resolve_tables(mapping: Mapping, tables: Sequence[str] | None) -> list[str]:
    """The V2 tables to verify (all the mapping produces, in file order, by default)."""
    known = list(mapping.target_tables())
    if not tables:
        return known
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise ConfigError(
            "--table",
            source="command line",
            problem=f"{', '.join(unknown)} is not a V2 table of the mapping",
            valid=", ".join(known),
        )
    return list(dict.fromkeys(tables))


def plan_table(reader: Reader, table: str, chunk_rows: int) -> list[Chunk]:
    spec = reader.spec(table)
    if not spec.chunkable:
        return plan_chunks([])  # a computed key cannot be mapped back to a V1 range: one chunk
    return plan_chunks(merge_boundaries(*reader.boundaries(spec, chunk_rows)))


def check_chunk(reader: Reader, table: str, chunk: Chunk, result: TableResult) -> None:
    spec = reader.spec(table)
    read = reader.read(spec, chunk)
    outcome = compare_chunk(chunk.index, read.expected.tokens, read.actual)
    result.add(outcome, read.display)
    result.v1_lsn = read.expected.lsn
    if not outcome.matches:
        log.info(
            "verify chunk mismatch table=%s chunk=%d expected_rows=%d actual_rows=%d diffs=%d",
            table,
            chunk.index,
            outcome.expected.rows,
            outcome.actual.rows,
            len(outcome.diffs),
        )


def write_result(v2: psycopg.Connection[Any], result: TableResult) -> None:
    v2.execute(
        q.WRITE_RESULT,
        [
            result.table,
            result.status,
            result.rows_expected,
            result.rows_actual,
            result.counts["missing"],
            result.counts["extra"],
            result.counts["different"],
            orjson.dumps(result.sample).decode(),
            result.v1_lsn,
        ],
    )


@dataclass(frozen=True, slots=True)
class VerifyRun:
    results: list[TableResult]
    resumed: bool

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def verify(
    settings: Settings,
    mapping: Mapping,
    *,
    tables: Sequence[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    resume: bool = False,
    restart: bool = False,
    progress: Progress | None = None,
) -> VerifyRun:
    """Verify ``tables`` (default: all), resumable through ``<state dir>/verify/state.json``."""
    names = resolve_tables(mapping, tables)
    state, resumed = RunState.begin(
        state_path(settings.state_dir),
        tables=names,
        chunk_rows=chunk_rows,
        mapping_digest=mapping_digest(mapping),
        resume=resume,
        restart=restart,
    )
    with connect_v1(settings.v1_admin.conninfo()) as v1, connect_v2(settings.v2_admin.conninfo()) as v2:
        reader = Reader(v1, v2, mapping)
        results = []
        for table in state.tables:
            if table in state.finished_tables:
                results.append(state.finished_tables[table])
                continue
            results.append(_verify_table(reader, state, table, progress))
        state.finish()
    return VerifyRun(results, resumed)


def _verify_table(reader: Reader, state: RunState, table: str, progress: Progress | None) -> TableResult:
    if table not in state.plans:
        state.plan(table, plan_table(reader, table, state.chunk_rows))
    chunks = state.plans[table]
    done = state.done_chunks.setdefault(table, set())
    result = state.partial.get(table) or TableResult(table)
    result.unverified = reader.spec(table).unverified
    total = max(reader.v2_count(table), result.rows_actual)  # counts first: the bar's total
    for chunk in chunks:
        if chunk.index in done:
            continue
        check_chunk(reader, table, chunk, result)
        state.chunk_done(table, chunk.index, result)
        total = max(total, result.rows_actual + 1)  # the final call below says "done"
        if progress is not None and len(done) < len(chunks):
            progress(table, result.rows_actual, total)
    if progress is not None:
        progress(table, result.rows_actual, result.rows_actual)
    write_result(reader.v2, result)
    state.table_done(table, result)
    log.info(
        "verify table=%s status=%s expected=%d actual=%d missing=%d extra=%d different=%d",
        table,
        result.status,
        result.rows_expected,
        result.rows_actual,
        result.counts["missing"],
        result.counts["extra"],
        result.counts["different"],
    )
    return result
