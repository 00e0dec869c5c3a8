"""The collector settings the loading processes and the workers run with."""

from __future__ import annotations

import gc

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
