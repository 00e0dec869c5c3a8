"""Write the demo into V1 and V2 with COPY: one transaction per database, idempotent.

Each database gets its schema file in two parts (pg_dump style): the tables (after dropping the scenario's
own tables), then COPY of every row, then the part after ``-- replicator:post-data`` — constraints,
indexes, sequence positions — so foreign keys are validated in bulk rather than row by row. Nothing
outside the scenario's tables is touched (the ``replicator`` schema, roles and publication stay).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.types.json import JsonbDumper

from replicator.demo import spec
from replicator.demo.generate import DemoData, Table, generate
from replicator.demo.v2 import V2Data, build_v2
from replicator.mapping.model import Mapping, load_mapping

__all__ = [
    "POST_DATA_MARKER",
    "SCHEMAS_DIR",
    "SeedReport",
    "seed",
    "seed_v1",
    "seed_v2",
    "split_schema",
]

Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_total)``; called every few thousand rows and once per finished table."""

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
POST_DATA_MARKER = "-- replicator:post-data"
_PROGRESS_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What ``seed`` wrote and how long each step took."""

    scale: float
    seed: int
    v1_rows: dict[str, int]
    v2_rows: dict[str, int]
    missing: dict[str, int]
    nulled_orphans: dict[str, int]
    seconds: dict[str, float]


def split_schema(text: str) -> tuple[str, str]:
    """(pre-data, post-data) parts of a schema file, split at the line reading ``POST_DATA_MARKER``."""
    pre, marker, post = text.partition(f"\n{POST_DATA_MARKER}\n")
    if not marker:
        raise ValueError(f"schema file lacks the {POST_DATA_MARKER!r} line")
    return pre, post


def seed_v1(
    conn: psycopg.Connection[Any],
    data: DemoData,
    *,
    progress: Progress | None = None,
    schema_file: Path = SCHEMAS_DIR / "v1" / "schema.sql",
) -> dict[str, int]:
    """(Re)create V1's tables and COPY ``data`` into them, in one transaction. Returns rows per table."""
    return _load(conn, schema_file, list(data.tables.values()), progress)


def seed_v2(
    conn: psycopg.Connection[Any],
    rows: V2Data,
    *,
    progress: Progress | None = None,
    schema_file: Path = SCHEMAS_DIR / "v2" / "schema.sql",
) -> dict[str, int]:
    """(Re)create V2's tables and COPY the partially migrated ``rows``, in one transaction."""
    return _load(conn, schema_file, rows.batches, progress)


def seed(
    v1: psycopg.Connection[Any],
    v2: psycopg.Connection[Any],
    *,
    scale: float = 1.0,
    seed: int = spec.DEFAULT_SEED,
    mapping: Mapping | Path = SCHEMAS_DIR / "mapping.yaml",
    progress: Progress | None = None,
) -> SeedReport:
    """Generate the scenario at ``scale``, load V1, map it through ``mapping`` and load V2."""
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    data = generate(scale, seed)
    seconds["generate"] = time.perf_counter() - started
    mark = time.perf_counter()
    v1_rows = seed_v1(v1, data, progress=progress)
    seconds["load_v1"] = time.perf_counter() - mark
    mark = time.perf_counter()
    v2_data = build_v2(data, mapping)
    seconds["map_v2"] = time.perf_counter() - mark
    mark = time.perf_counter()
    v2_rows = seed_v2(v2, v2_data, progress=progress)
    seconds["load_v2"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return SeedReport(
        scale=scale,
        seed=seed,
        v1_rows=v1_rows,
        v2_rows=v2_rows,
        missing={table: len(ids) for table, ids in data.missing.items()},
        nulled_orphans=v2_data.nulled,
        seconds=seconds,
    )


def _load(
    conn: psycopg.Connection[Any], schema_file: Path, batches: Iterable[Table], progress: Progress | None
) -> dict[str, int]:
    pre, post = split_schema(schema_file.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute(pre)  # trusted file shipped with the project
        with conn.cursor() as cur:
            cur.adapters.register_dumper(dict, JsonbDumper)
            for batch in batches:
                counts[batch.name] = counts.get(batch.name, 0) + _copy(cur, batch, progress)
        conn.execute(post)
        for table in counts:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    if not conn.autocommit and conn.info.transaction_status is TransactionStatus.INTRANS:
        conn.commit()
    return counts


def _copy(cur: psycopg.Cursor[Any], batch: Table, progress: Progress | None) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(batch.name), sql.SQL(", ").join(map(sql.Identifier, batch.columns))
    )
    total = len(batch.rows)
    with cur.copy(statement) as copy:
        for done, row in enumerate(batch.rows, 1):
            copy.write_row(row)
            if progress is not None and done % _PROGRESS_EVERY == 0:
                progress(batch.name, done, total)
    if progress is not None:
        progress(batch.name, total, total)
    return total
