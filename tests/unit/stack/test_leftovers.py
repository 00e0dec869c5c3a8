"""The data roots deleted checkouts leave behind: which are removed, and which are always kept.

On real directories (tmp_path), no clusters: a data root is a directory with cluster subdirectories.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from replicator.stack import leftovers
from replicator.stack.layout import Layout


def _stack(tmp_path: Path, name: str, *, cluster_pid: int | None = None) -> Layout:
    """A checkout's state dir and its claimed data root under tmp_path/stacks, with a stopped (or, with
    ``cluster_pid``, running) cluster holding one data file."""
    state_dir = tmp_path / name
    state_dir.mkdir()
    digest = Layout.for_state_dir(state_dir, euid=0).pg_root.name
    layout = Layout(state_dir=state_dir, pg_root=tmp_path / "stacks" / digest)
    leftovers.claim(layout)
    cluster = layout.pg_data("v1")
    cluster.mkdir()
    (cluster / "PG_VERSION").write_text("15\n")
    if cluster_pid is not None:
        (cluster / "postmaster.pid").write_text(f"{cluster_pid}\n{cluster}\n")
    return layout


def test_only_the_stopped_roots_of_deleted_state_dirs_are_removed(tmp_path: Path) -> None:
    """Removed: a claimed root whose state dir is gone and whose clusters are stopped. Kept: a live
    checkout's root, a deleted checkout's root with a running cluster, an unclaimed root, and a root
    whose marker names a state dir that does not hash to it."""
    live = _stack(tmp_path, "live")
    deleted = _stack(tmp_path, "deleted")
    running = _stack(tmp_path, "running", cluster_pid=os.getpid())
    unclaimed = _stack(tmp_path, "unclaimed")
    unclaimed.owner_file.unlink()
    foreign = _stack(tmp_path, "foreign")
    foreign.owner_file.write_text(f"{tmp_path / 'never-existed'}\n")
    for layout in (deleted, running, unclaimed, foreign):
        shutil.rmtree(layout.state_dir)

    roots = {r.root: r for r in leftovers.survey(tmp_path / "stacks")}
    assert [roots[x.pg_root].left_over for x in (live, deleted, running, unclaimed, foreign)] == [
        False,
        True,
        False,
        False,
        False,
    ]
    assert roots[running.pg_root].running and roots[unclaimed.pg_root].owner is None
    assert roots[deleted.pg_root].owner == deleted.state_dir

    assert all(r.size_bytes is None for r in leftovers.survey(tmp_path / "stacks", sizes=False))
    freed = leftovers.remove(leftovers.survey(tmp_path / "stacks", sizes=False))  # sized when removed

    assert freed == roots[deleted.pg_root].size_bytes
    assert freed > 0
    remaining = {p.name for p in (tmp_path / "stacks").iterdir()}
    assert remaining == {x.pg_root.name for x in (live, running, unclaimed, foreign)}
    assert (live.pg_data("v1") / "PG_VERSION").exists()


def test_a_stack_keeping_its_data_in_its_state_dir_claims_nothing(tmp_path: Path) -> None:
    """Not as root, the data root is the state dir's own ``pg``: no marker, nothing shared."""
    layout = Layout.for_state_dir(tmp_path, euid=1000)
    leftovers.claim(layout)
    assert not layout.pg_root_shared and not layout.pg_root.exists()


def test_a_missing_base_directory_surveys_as_empty(tmp_path: Path) -> None:
    assert leftovers.survey(tmp_path / "absent") == []
