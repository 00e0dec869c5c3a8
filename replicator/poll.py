"""Waiting for a condition: the one polling loop the product's resets and the benchmark share."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(check: Callable[[], object], what: str, timeout: float, *, interval: float = 0.25) -> float:
    """Poll ``check`` until it is true; the seconds it took. ``TimeoutError`` naming ``what`` after
    ``timeout`` seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started
