"""The initial load's relay thread: whatever goes wrong in it ends the load, never a wait at the barrier.

Run with the standard library's thread primitives in place of the spawn context's (the same interface);
a spawned process is stood in for by its ``exitcode``.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from replicator.load.run import _Relay
from replicator.load.share import Part


@dataclass
class _Child:
    exitcode: int | None = None


def _relay(progress: object, *messages: tuple[str, object], child: _Child | None = None) -> _Relay:
    inbox: queue.Queue[tuple[str, object]] = queue.Queue()
    for message in messages:
        inbox.put(message)
    relay = _Relay([child or _Child()], inbox, threading.Barrier(2), progress)  # type: ignore[arg-type]
    relay.join()
    return relay


def test_a_failing_relay_breaks_the_barrier_instead_of_dying_silently() -> None:
    def progress(_line: str) -> None:
        raise BrokenPipeError

    relay = _relay(progress, ("progress", "loaded users"))
    assert relay.failure == "relaying the loading processes' reports: BrokenPipeError"
    assert relay.barrier.broken, "the first process must not wait at the barrier for a relay that died"


def test_a_process_dead_without_a_report_breaks_the_barrier() -> None:
    relay = _relay(print, child=_Child(exitcode=-9))
    assert relay.failure == "a loading process died without a report"
    assert relay.barrier.broken


def test_a_reported_error_and_a_part_are_relayed() -> None:
    lines: list[str] = []
    relay = _relay(lines.append, ("progress", "loaded users"), ("error", "process 1: OperationalError"))
    assert lines == ["loaded users"]
    assert relay.failure == "process 1: OperationalError" and relay.barrier.broken
    part = Part()
    relay = _relay(lines.append, ("part", part))
    assert relay.parts == [part] and relay.failure is None and not relay.barrier.broken
