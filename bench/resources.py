"""CPU time and peak memory of process trees, read from /proc (Linux)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from replicator.stack.process import peak_rss_mb

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")

__all__ = ["CpuMeter", "cpu_seconds", "peak_rss_mb", "tree"]


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / TICKS


def _all() -> dict[int, tuple[int, float]]:
    out = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            out[int(entry.name)] = stat
    return out


def tree(roots: Iterable[int], table: Mapping[int, tuple[int, float]]) -> dict[int, float]:
    """CPU seconds of every live process in the trees under ``roots``."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, float] = {}
    todo = [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        out[pid] = table[pid][1]
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(roots: Iterable[int]) -> float:
    """CPU seconds spent so far by the live process trees under ``roots``."""
    return sum(tree(roots, _all()).values())


@dataclass
class CpuMeter:
    """CPU seconds per component over a window.

    A child that exits inside the window is charged through its parent's reaped-children time; its
    CPU from before the window was counted at the start and is subtracted — so the figure is the
    CPU spent inside the window (PostgreSQL backends, JVM threads and worker threads included)."""

    components: Callable[[], dict[str, list[int]]]
    """Root pids per component, asked at start and at stop (processes may start inside the window)."""
    _start: dict[str, float] | None = None

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        assert self._start is not None, "start() first"
        end = self._read()
        return {name: max(0.0, end[name] - self._start.get(name, 0.0)) for name in end}

    def _read(self) -> dict[str, float]:
        table = _all()
        return {name: sum(tree(roots, table).values()) for name, roots in self.components().items()}
