"""System f's copy: the least V2 itself spends to take the demo's rows with its foreign keys on.

    python -m bench.v2floor DIR   # prints one JSON object: rows, seconds, cpu_s, peak_rss_mb

``DIR`` holds ``plan.json`` and the V2 rows the product's load wrote, dumped by ``COPY … TO STDOUT
(FORMAT binary)`` (``bench.systems.v2floor`` makes both). Two processes, as ``replicator load`` runs,
connected as the product's V2 writer, take the steps in order with a barrier after each: a step's
tables are written by ``COPY … FROM STDIN (FORMAT binary)`` in one transaction per process, each its
hash share of every table, or the whole step by the first process when its rows reference each other.
The bytes go from file to V2 untouched: no Python per row, no mapping, no staging, no lookups. What
PostgreSQL V2 spends here (its FK checks, its index inserts) any writer keeping V2's constraints on
pays; the benchmark measures it, as it does every system's V2.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench import stackenv  # noqa: F401  (the benchmark stack's ports, before settings load)
from replicator.settings import load_settings
from replicator.stack.process import peak_rss_mb

PROCESSES = 2
PLAN = "plan.json"
CHUNK = 1 << 20
BARRIER_TIMEOUT_S = 600.0
"""A process that failed breaks the barrier for the other one after this long, at the latest."""


def dump_name(table: str, share: int | None) -> str:
    """The file holding ``table``'s rows of ``share`` (None: the whole table)."""
    return f"{table}.{'all' if share is None else share}.copy"


def _write(conn: psycopg.Connection[Any], schema: str, table: str, columns: list[str], path: Path) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with conn.cursor().copy(statement) as copy, path.open("rb") as data:
        while chunk := data.read(CHUNK):
            copy.write(chunk)


def copy_share(directory: Path, index: int, barrier: Any) -> float:
    """Process ``index``'s part of every step; its peak RSS in MiB."""
    plan = json.loads((directory / PLAN).read_text())
    settings = load_settings()
    with psycopg.connect(settings.v2_writer.conninfo()) as conn:
        for step in plan["steps"]:
            mine = index == 0 if step["whole"] else True
            if mine:
                conn.execute("SET CONSTRAINTS ALL DEFERRED")  # a cycle's deferrable half, as the product
                for table in step["tables"]:
                    share = None if step["whole"] else index
                    path = directory / dump_name(table, share)
                    _write(conn, plan["schema"], table, plan["columns"][table], path)
                conn.commit()
            barrier.wait(BARRIER_TIMEOUT_S)
    return peak_rss_mb(os.getpid())


def _child(directory: str, index: int, barrier: Any, results: Any) -> None:
    results.put((index, copy_share(Path(directory), index, barrier)))


def copy_all(directory: Path) -> dict[str, Any]:
    """Every step by ``PROCESSES`` processes: rows, seconds, CPU seconds of them all, the largest peak RSS."""
    plan = json.loads((directory / PLAN).read_text())
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    started = time.monotonic()
    children = [
        context.Process(target=_child, args=(str(directory), k, barrier, results)) for k in range(PROCESSES)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    seconds = time.monotonic() - started
    failed = [c.exitcode for c in children if c.exitcode != 0]
    if failed:
        raise SystemExit(f"a copying process failed (exit codes {failed}): see its traceback above")
    rss = [results.get()[1] for _ in children]
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "rows": sum(plan["rows"].values()),
        "seconds": round(seconds, 3),
        "cpu_s": round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 3),
        "peak_rss_mb": round(max([peak_rss_mb(os.getpid()), *rss]), 1),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    print(json.dumps(copy_all(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
