"""Readiness: partitions assigned and a recent successful commit (or idle with nothing to do)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

STALE_AFTER_S = 60.0


@dataclass
class Health:
    last_commit: float | None = None
    started: float = field(default_factory=time.monotonic)

    def committed(self) -> None:
        self.last_commit = time.monotonic()

    def ready(self, *, assigned_partitions: int, now: float | None = None) -> dict[str, object]:
        now = time.monotonic() if now is None else now
        since = None if self.last_commit is None else now - self.last_commit
        fresh = since is not None and since < STALE_AFTER_S
        return {
            "ready": assigned_partitions > 0 and fresh,
            "assigned_partitions": assigned_partitions,
            "seconds_since_last_commit": None if since is None else round(since, 3),
        }
