"""System p: the Python floor. V1's rows copied by two Python processes, COPY in and COPY out, into the
mirror database ``bench_floor`` (V1's tables, as b's and c's targets). Initial sync only.

Not a product anyone would ship (no mapping, no foreign keys, no streaming afterwards): the reference
that says how much of a Python pipeline's initial sync is Python itself reading and writing rows, and
how much is the pipeline's own work. a / p is the product's overhead over that floor, measured in the
same rounds as a / b. See ``bench.floor``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench.context import Bench, count_rows
from bench.floor import PROCESSES
from bench.systems.base import mirror_database

NAME = "bench_floor"


class FloorSystem:
    key = "p"
    label = "Python COPY floor"

    def __init__(self) -> None:
        self._usage: dict[str, tuple[float, float]] = {}
        self._wanted: dict[str, int] = {}

    def settings(self) -> dict[str, Any]:
        return {
            "processes": PROCESSES,
            "read": "COPY TO STDOUT, typed rows (psycopg loaders), a hash share per process",
            "write": "COPY FROM STDIN into V1-shaped tables, one transaction per process",
        }

    def setup(self, bench: Bench) -> None:
        mirror_database(bench, NAME)

    def start(self, bench: Bench) -> None:
        self._wanted = bench.v1_counts()
        command = [sys.executable, "-m", "bench.floor", NAME, *bench.tables]
        done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the floor copy failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        report = json.loads(done.stdout)
        self._usage = {"floor": (float(report["cpu_s"]), float(report["peak_rss_mb"]))}

    def synced(self, bench: Bench) -> bool:
        if not self._wanted:
            return False  # not started
        with bench.v2(NAME) as target:
            return all(count_rows(target, "public", t) == n for t, n in self._wanted.items())

    def pause(self, bench: Bench) -> None:
        raise NotImplementedError("p measures the initial sync only: it does not stream")

    def resume(self, bench: Bench) -> None:
        raise NotImplementedError("p measures the initial sync only: it does not stream")

    def caught_up(self, bench: Bench, lsn: str) -> bool:
        raise NotImplementedError("p measures the initial sync only: it does not stream")

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        return NAME, v1_table

    def processes(self, bench: Bench) -> dict[str, list[int]]:
        return {}  # the copy has exited when ``start`` returns: ``start_usage`` has its CPU

    def start_usage(self) -> dict[str, tuple[float, float]]:
        return dict(self._usage)

    def rows_committed_at(self) -> float | None:
        return None  # ``start`` returns with every row committed: the sync's own time says it

    def teardown(self, bench: Bench) -> None:
        """Nothing runs once ``start`` has returned; the mirror database is recreated by ``setup``."""
