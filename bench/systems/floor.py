"""System p: the Python floor. V1's rows copied by two Python processes, COPY in and COPY out, into the
mirror database ``bench_floor`` (V1's tables, as b's and c's targets). Initial sync only.

Not a product anyone would ship (no mapping, no foreign keys, no streaming afterwards): the reference
that says how much of a Python pipeline's initial sync is Python itself reading and writing rows, and
how much is the pipeline's own work. a / p is the product's overhead over that floor, measured in the
same rounds as a / b. See ``bench.floor``.
"""

from __future__ import annotations

import sys
from typing import Any

from bench.context import Bench, count_rows
from bench.floor import PROCESSES
from bench.systems.base import CopyOnce, mirror_database

NAME = "bench_floor"


class FloorSystem(CopyOnce):
    key = "p"
    label = "Python COPY floor"
    usage_label = "floor"

    def __init__(self) -> None:
        super().__init__()
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
        self.run_copy([sys.executable, "-m", "bench.floor", NAME, *bench.tables])

    def synced(self, bench: Bench) -> bool:
        if not self._wanted:
            return False  # not started
        with bench.v2(NAME) as target:
            return all(count_rows(target, "public", t) == n for t, n in self._wanted.items())

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        return NAME, v1_table

    def teardown(self, bench: Bench) -> None:
        """Nothing runs once ``start`` has returned; the mirror database is recreated by ``setup``."""
