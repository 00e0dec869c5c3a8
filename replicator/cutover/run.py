"""The cutover, step by step: check → freeze V1 → fence → drain → verify → sequences. Each step is
recorded in V2 before the next begins, so an interrupted cutover resumes where it stopped (``resume``)
or is undone (``abort``, which opens V1's writes again).

* **check**: every blocking readiness check passes (``facts.readiness``), else nothing changes.
* **freeze**: V1 becomes read-only for applications (``v1.freeze``).
* **fence**: a row written into V1 after the freeze; its WAL position bounds every change V2 needs.
* **drain**: replication passes the fence (``drain.wait_drained`` up to its LSN: Debezium's slot
  confirmed it, the group is behind by nothing, nothing is parked): V2 has applied all V1 committed.
* **verify**: every V2 table compared with V1 through the mapping, V1 no longer moving.
* **sequences**: V2's id sequences moved past V2's ids and V1's sequences (``sequences``), so the
  application's first insert into V2 takes an id nobody had.

After the last step V1 stays frozen and the crew flips traffic to V2. ``abort`` afterwards opens V1
again (for a rollback before V2 took writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from replicator.cutover import sequences
from replicator.cutover import v1 as v1_writes
from replicator.cutover.checks import Check, Limits, ready
from replicator.cutover.facts import readiness
from replicator.cutover.state import ACTIVE, STEPS, CutoverState, load, save
from replicator.drain import pg_lsn, wait_drained
from replicator.errors import ReplicatorError, check_choices
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.verify.run import verify
from replicator.worker.app import source_topics

__all__ = ["Cutover", "CutoverError"]

Progress = Callable[[str], None]
FINAL_VERIFY = ("full", "recorded")
"""``full``: compare every table with frozen V1 (V1 stays frozen meanwhile: ~50 s for the demo's 296K
rows); ``recorded``: accept the last recorded results, which the check step already required to be
recent and matching."""
RECORDED_SQL = (
    "SELECT tbl, status, extract(epoch FROM clock_timestamp() - checked_at) "
    "FROM replicator.verification WHERE tbl = ANY(%s)"
)


class CutoverError(ReplicatorError):
    """The cutover cannot start or go on; the message says why and what to do."""


class Cutover:
    def __init__(
        self,
        settings: Settings,
        mapping: Mapping,
        *,
        limits: Limits | None = None,
        drain_timeout_s: float = 300.0,
        final_verify: str = "full",
        progress: Progress = lambda _: None,
    ) -> None:
        self.settings = settings
        self.mapping = mapping
        self.limits = limits or Limits()
        self.drain_timeout_s = drain_timeout_s
        check_choices("--final-verify", [final_verify], FINAL_VERIFY)
        self.final_verify = final_verify
        self.progress = progress

    # ---------------------------------------------------------------- commands

    def check(self) -> list[Check]:
        return readiness(self.settings, self.mapping, self.limits)

    def current(self) -> CutoverState | None:
        with self._v2() as v2:
            return load(v2)

    def run(self, *, until: str | None = None) -> CutoverState:
        with self._v2() as v2:
            existing = load(v2)
            if existing is not None and existing.status in ACTIVE:
                raise CutoverError(
                    f"a cutover is already {existing.status} after step {existing.step or '(none)'}: "
                    "`replicator cutover resume` or `replicator cutover abort`"
                )
            if existing is not None and existing.status == "done":
                raise CutoverError(
                    "a cutover is done and V1 is frozen: "
                    "`replicator cutover abort` opens V1 again before another"
                )
            state = CutoverState()
            save(v2, state, "started")
            return self._advance(v2, state, until)

    def resume(self, *, until: str | None = None) -> CutoverState:
        with self._v2() as v2:
            state = load(v2)
            if state is None or state.status not in ACTIVE:
                raise CutoverError(
                    f"no cutover to resume (last: {state.status if state else 'none'}): "
                    "`replicator cutover run`"
                )
            state.status = "running"
            save(v2, state, "resumed")
            return self._advance(v2, state, until)

    def abort(self) -> CutoverState:
        with self._v2() as v2:
            state = load(v2) or CutoverState(status="aborted")
            with self._v1() as v1:
                ended = v1_writes.thaw(v1, exempt_role=self.settings.v1_replication.user)
            state.status = "aborted"
            state.detail = f"V1 takes writes again ({ended} read-only session(s) ended)"
            save(v2, state, "aborted")
            self.progress(state.detail)
            return state

    # ---------------------------------------------------------------- the steps

    def _advance(self, v2: psycopg.Connection[Any], state: CutoverState, until: str | None) -> CutoverState:
        if until is not None and until not in STEPS:
            raise CutoverError(f"--until {until}: not a step (one of {', '.join(STEPS)})")
        for step in state.remaining:
            self.progress(f"{step}…")
            try:
                try:
                    state.detail = getattr(self, f"_{step}")(state)
                except psycopg.Error as exc:  # a database refused: the step can be retried once fixed
                    raise CutoverError(
                        f"{step} failed: {type(exc).__name__}, sqlstate {exc.sqlstate or '?'}; fix it and "
                        "`replicator cutover resume` (the step runs again), or `replicator cutover abort`"
                    ) from None
            except CutoverError as exc:
                state.status, state.detail = "failed", str(exc)
                save(v2, state, f"{step} failed")
                raise
            state.step = step
            paused = step == until and step != STEPS[-1]
            state.status = "paused" if paused else "running"
            save(v2, state, f"{step} done")
            self.progress(f"{step}: {state.detail}")
            if paused:
                return state
        state.status = "done"
        state.detail = (
            "V2 holds everything V1 committed and matches it; V1 stays read-only: flip traffic to V2"
        )
        save(v2, state, "done")
        return state

    def _check(self, state: CutoverState) -> str:
        checks = self.check()
        if not ready(checks):
            failing = "; ".join(f"{c.name}: {c.detail}" for c in checks if c.blocking and not c.passed)
            raise CutoverError(f"not ready, V1 untouched: {failing}")
        return "every readiness check passed"

    def _freeze(self, state: CutoverState) -> str:
        with self._v1() as v1:
            ended = v1_writes.freeze(v1, exempt_role=self.settings.v1_replication.user)
        return f"V1 read-only for applications ({ended} open session(s) ended)"

    def _fence(self, state: CutoverState) -> str:
        if state.fence_lsn is None:
            with self._v1() as v1:
                state.fence_lsn = v1_writes.write_fence(v1, "cutover")
        return f"fence at V1 LSN {pg_lsn(state.fence_lsn)}"

    def _drain(self, state: CutoverState) -> str:
        assert state.fence_lsn is not None
        started = time.monotonic()
        topics = source_topics(self.mapping)
        drained = wait_drained(self.settings, topics, timeout=self.drain_timeout_s, lsn=state.fence_lsn)
        if not drained.zero:
            raise CutoverError(
                f"not drained within {self.drain_timeout_s:.0f}s: Debezium past the fence "
                f"{'yes' if drained.slot_caught_up else 'no'}, {drained.consumer_lag:,} events behind, "
                f"{drained.parked:,} parked (are the workers running? `replicator status`); "
                "`replicator cutover resume` waits again"
            )
        return f"replication passed the fence, nothing behind or parked ({time.monotonic() - started:.1f}s)"

    def _verify(self, state: CutoverState) -> str:
        if self.final_verify == "recorded":
            return self._recorded_verification()
        result = verify(self.settings, self.mapping, restart=True)
        failed = [r.table for r in result.results if not r.passed]
        if failed:
            raise CutoverError(
                f"V2 differs from V1 in {', '.join(failed)} (`replicator verify` for details); "
                "fix and `replicator cutover resume`, or `replicator cutover abort`"
            )
        return f"all {len(result.results)} V2 tables match frozen V1"

    def _sequences(self, state: CutoverState) -> str:
        with self._v1() as v1, self._v2() as v2:
            identities = sequences.read_identities(v1, v2, self.mapping)
            moves = sequences.advance(v2, identities)
        return sequences.describe(identities, moves)

    def _recorded_verification(self) -> str:
        """Accept the last recorded results (e.g. of `verify --continuous`): V1 stays frozen for seconds
        instead of a full comparison, at the price of the changes since then being replicated but not
        compared again."""
        tables = list(self.mapping.target_tables())
        with self._v2() as v2:
            rows = v2.execute(RECORDED_SQL, [tables]).fetchall()
        recorded = {str(t): (str(status), float(age)) for t, status, age in rows}
        failed = [t for t in tables if recorded.get(t, ("missing", 0.0))[0] != "match"]
        if failed:
            raise CutoverError(
                f"no matching recorded verification for {', '.join(failed)}; "
                "`replicator cutover resume` (full verify by default) or `replicator cutover abort`"
            )
        oldest = max(age for _, age in recorded.values())
        return (
            f"recorded verification accepted: all {len(tables)} V2 tables matched, the oldest "
            f"{oldest / 60:.0f} min ago (changes since then replicated, not compared again)"
        )

    # ---------------------------------------------------------------- connections

    def _v1(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.v1_admin.conninfo(), autocommit=True)

    def _v2(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.v2_admin.conninfo(), autocommit=True)
