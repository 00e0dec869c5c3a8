"""System p's copy: the least a Python pipeline can spend moving V1's rows into V2-cluster tables.

    python -m bench.floor TARGET_DB TABLE...   # prints one JSON object: rows, seconds, cpu_s, peak_rss_mb

Two processes (as ``replicator load`` runs), each the rows whose key hashes to it (the load's own
``share_filter``) of every table, in one REPEATABLE READ transaction of V1. Each row is read by
``COPY … TO STDOUT`` into typed Python values (psycopg's loaders: what any transformation would need
first) and written by ``COPY … FROM STDIN`` into the mirror table of the same name. No mapping, no
foreign keys, no bookkeeping: what is left of the product's load once its own work is taken away.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from bench import stackenv  # noqa: F401  (the benchmark stack's ports, before settings load)
from replicator.load.source import Share, share_filter
from replicator.mapping.catalog import read_catalog
from replicator.settings import Settings, load_settings
from replicator.stack.process import peak_rss_mb

PROCESSES = 2

TYPES_SQL = "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"

DUMP_AS_TEXT = {1042: 25}
"""psycopg has no dumper for ``bpchar``: its values go out as text (COPY converts them)."""


def copy_share(settings: Settings, target_db: str, tables: list[str], share: Share) -> tuple[int, float]:
    """This process's share of every table: the rows copied and this process's peak RSS in MiB."""
    copied = 0
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo(dbname=target_db)) as target,
    ):
        v1.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        v1.read_only = True
        catalog = read_catalog(v1, "public")
        for name in tables:
            table = catalog.tables[name]
            names = [c.name for c in table.columns if not c.is_generated]
            oids: dict[str, int] = dict(v1.execute(TYPES_SQL, [f"public.{name}"]).fetchall())
            types = [oids[n] for n in names]
            columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
            read = sql.SQL("COPY (SELECT {} FROM {}{}) TO STDOUT").format(
                columns, sql.Identifier("public", name), share_filter(table.primary_key, share)
            )
            write = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier("public", name), columns)
            with v1.cursor().copy(read) as source, target.cursor().copy(write) as sink:
                source.set_types(types)
                sink.set_types([DUMP_AS_TEXT.get(t, t) for t in types])
                for row in source.rows():
                    sink.write_row(row)
                    copied += 1
        target.commit()
    return copied, peak_rss_mb(os.getpid())


def _child(target_db: str, tables: list[str], index: int) -> tuple[int, float]:
    return copy_share(load_settings(), target_db, tables, Share(index, PROCESSES))


def copy_all(target_db: str, tables: list[str]) -> dict[str, Any]:
    """Every table into ``target_db`` by ``PROCESSES`` processes: rows, seconds, CPU seconds of them all
    and the largest one's peak RSS (VmHWM: ``ru_maxrss`` would report the benchmark's own size, which a
    process started from it keeps across ``execve``)."""
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        parts = pool.starmap(_child, [(target_db, tables, k) for k in range(PROCESSES)])
    seconds = time.monotonic() - started
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {
        "rows": sum(rows for rows, _rss in parts),
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_mb": round(max([peak_rss_mb(os.getpid()), *(rss for _rows, rss in parts)]), 1),
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    print(json.dumps(copy_all(argv[0], argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
