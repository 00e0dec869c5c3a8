"""Where a cutover stands, kept in V2's ``replicator.cutover`` (one row) so any machine can resume or
abort it after an interruption."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg

__all__ = ["ACTIVE", "STEPS", "CutoverState", "load", "save"]

STEPS = ("check", "freeze", "fence", "drain", "verify", "sequences")
ACTIVE = frozenset({"running", "paused", "failed"})
"""A cutover in one of these states holds V1 frozen (after its freeze) and must be resumed or aborted."""


@dataclass(slots=True)
class CutoverState:
    step: str = ""
    """The last step completed, "" before the first."""
    status: str = "running"
    detail: str = ""
    fence_lsn: int | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def remaining(self) -> tuple[str, ...]:
        return STEPS[STEPS.index(self.step) + 1 :] if self.step else STEPS

    def as_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "status": self.status,
            "detail": self.detail,
            "fence_lsn": self.fence_lsn,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "remaining": list(self.remaining) if self.status in ACTIVE else [],
            "history": self.history,
        }


LOAD_SQL = """
SELECT step, status, detail, fence_lsn, started_at, updated_at, history FROM replicator.cutover WHERE id = 1
"""
SAVE_SQL = """
INSERT INTO replicator.cutover (id, step, status, detail, fence_lsn, started_at, updated_at, history)
VALUES (1, %(step)s, %(status)s, %(detail)s, %(fence_lsn)s, coalesce(%(started_at)s, clock_timestamp()),
        clock_timestamp(), %(history)s::jsonb)
ON CONFLICT (id) DO UPDATE SET step = EXCLUDED.step, status = EXCLUDED.status, detail = EXCLUDED.detail,
    fence_lsn = EXCLUDED.fence_lsn, started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at,
    history = EXCLUDED.history
RETURNING started_at, updated_at
"""


def load(v2: psycopg.Connection[Any]) -> CutoverState | None:
    row = v2.execute(LOAD_SQL).fetchone()
    if row is None:
        return None
    step, status, detail, fence_lsn, started_at, updated_at, history = row
    return CutoverState(step, status, detail, fence_lsn, started_at, updated_at, list(history))


def save(v2: psycopg.Connection[Any], state: CutoverState, event: str) -> None:
    """Store ``state`` (committed at once: the record must survive whatever happens next), with ``event``
    and the state's detail appended to its history."""
    state.history.append(
        {"at": datetime.now().astimezone().isoformat(), "event": event, "detail": state.detail}
    )
    params = {
        "step": state.step,
        "status": state.status,
        "detail": state.detail,
        "fence_lsn": state.fence_lsn,
        "started_at": state.started_at,
        "history": orjson.dumps(state.history).decode(),
    }
    with v2.transaction():
        row = v2.execute(SAVE_SQL, params).fetchone()
    if row is not None:
        state.started_at, state.updated_at = row
