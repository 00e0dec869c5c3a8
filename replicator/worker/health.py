"""Readiness: partitions assigned and a recent successful commit (or idle with nothing to do)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from replicator.errors import ReplicatorError

STALE_AFTER_S = 60.0


@dataclass
class Health:
    last_commit: float | None = None
    started: float = field(default_factory=time.monotonic)
    failures: dict[str, str] = field(default_factory=dict)  # activity → its last failure, without values

    def committed(self) -> None:
        self.last_commit = time.monotonic()
        self.failures.pop("apply", None)

    def failed(self, activity: str, exc: BaseException) -> None:
        """Record a failure: the product's own message (built from structured fields, never values), or
        the class of anything else."""
        self.failures[activity] = str(exc) if isinstance(exc, ReplicatorError) else type(exc).__name__

    def ready(self, *, assigned_partitions: int, now: float | None = None) -> dict[str, object]:
        now = time.monotonic() if now is None else now
        since = None if self.last_commit is None else now - self.last_commit
        fresh = since is not None and since < STALE_AFTER_S
        return {
            "ready": assigned_partitions > 0 and fresh,
            "assigned_partitions": assigned_partitions,
            "seconds_since_last_commit": None if since is None else round(since, 3),
            "failures": dict(self.failures),
        }
