"""The collector settings the loading processes and the workers run with; paused while a batch runs, in
any thread, and back as it was afterwards."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from replicator import gctune


def test_tune_freezes_what_is_alive_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        gctune.tune()
        assert gc.get_threshold() == gctune.THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_paused_for_the_batch_then_enabled_again() -> None:
    assert gc.isenabled()
    with gctune.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_batches_in_two_threads_keep_it_paused_until_the_last_ends() -> None:
    first_in, second_done, states = threading.Event(), threading.Event(), []

    def batch() -> None:
        with gctune.paused():
            first_in.set()
            second_done.wait(5)
            states.append(gc.isenabled())  # the other thread's batch ended meanwhile

    worker = threading.Thread(target=batch)
    worker.start()
    first_in.wait(5)
    with gctune.paused():
        pass
    second_done.set()
    worker.join(5)
    assert states == [False]
    assert gc.isenabled()


def test_an_error_in_the_batch_still_enables_it() -> None:
    try:
        with gctune.paused():
            raise RuntimeError("batch failed")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with gctune.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_retried_batch_collects_its_garbage_before_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """During an outage the batch is retried inside the pause: each retry collects before its wait, so
    the collector is not off for as long as V2 is away."""
    from types import SimpleNamespace

    from replicator.errors import TransientError
    from replicator.worker.processor import Processor

    class Node:
        other: Node | None = None

    cycles: list[weakref.ref[Node]] = []
    alive_at_wait: list[bool] = []
    monkeypatch.setattr(
        "replicator.worker.processor.time.sleep", lambda _s: alive_at_wait.append(cycles[-1]() is not None)
    )

    def attempt() -> list[object]:
        if len(cycles) == 2:
            return []
        a, b = Node(), Node()
        a.other, b.other = b, a  # garbage only a collection frees
        cycles.append(weakref.ref(a))
        raise TransientError("V2 away")

    told: list[str] = []
    processor = SimpleNamespace(_v2=None, on_retry=lambda error: told.append(str(error)))
    processor._report_retry = lambda exc, delay: Processor._report_retry(processor, exc, delay)  # type: ignore[arg-type]
    with gctune.paused():
        Processor._with_retry(processor, attempt)  # type: ignore[arg-type]
    assert told == ["V2 away", "V2 away"]
    assert alive_at_wait == [False, False]
