"""How many loading processes the initial load starts when ``--processes`` is not given."""

from __future__ import annotations

import os

import pytest

from replicator.load.run import MAX_PROCESSES, default_processes


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 2), (6, 6), (64, MAX_PROCESSES)])
def test_the_load_runs_one_process_per_usable_cpu(
    monkeypatch: pytest.MonkeyPatch, cpus: int, expected: int
) -> None:
    """One loading process per CPU the command may run on (its affinity), at most MAX_PROCESSES."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    assert default_processes() == expected
