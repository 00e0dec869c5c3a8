"""The resume state: done chunks survive, unfinished work is never thrown away implicitly."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicator.errors import ConfigError
from replicator.verify.chunks import Chunk
from replicator.verify.compare import TableResult
from replicator.verify.state import RunState


def _begin(path: Path, *, resume: bool = False, restart: bool = False) -> tuple[RunState, bool]:
    return RunState.begin(
        path, tables=["a", "b"], chunk_rows=10, mapping_digest="m", resume=resume, restart=restart
    )


def test_an_unfinished_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    """Plans, done chunks and partial counts come back; a plain re-run is refused; --restart discards."""
    path = tmp_path / "state.json"
    state, resumed = _begin(path)
    assert not resumed
    state.plan("a", [Chunk(0, None, (5,)), Chunk(1, (5,), None)])
    partial = TableResult("a", rows_expected=5, rows_actual=4)
    partial.counts["missing"] = 1
    state.chunk_done("a", 0, partial)

    with pytest.raises(ConfigError, match="--resume"):
        _begin(path)
    again, resumed = _begin(path, resume=True)
    assert resumed
    assert again.plans["a"] == [Chunk(0, None, (5,)), Chunk(1, (5,), None)]
    assert again.done_chunks["a"] == {0}
    assert again.partial["a"].counts["missing"] == 1 and again.partial["a"].rows_actual == 4

    fresh, resumed = _begin(path, restart=True)
    assert not resumed and fresh.plans == {}


def test_a_finished_run_is_replaced_without_asking(tmp_path: Path) -> None:
    """Only unfinished work needs --restart."""
    path = tmp_path / "state.json"
    state, _ = _begin(path)
    state.plan("a", [Chunk(0, None, None)])
    state.table_done("a", TableResult("a"))
    state.finish()
    fresh, resumed = _begin(path)
    assert not resumed and fresh.finished_tables == {}
