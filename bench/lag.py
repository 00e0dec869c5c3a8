"""Commit-to-commit lag: V1's commit timestamp of a row against the target's, for the same row.

Both clusters run on this machine with ``track_commit_timestamp = on``, so their clocks are one. Rows
changed again later carry the later commit on both sides, which is still a matched pair.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from bench.context import Conn


def commit_times(
    conn: Conn, table: str, ids: Sequence[int], *, arrival_column: str | None = None
) -> dict[int, datetime]:
    """Each row's commit timestamp — or, with ``arrival_column``, the time that column recorded."""
    when = sql.Identifier(arrival_column) if arrival_column else sql.SQL("pg_xact_commit_timestamp(xmin)")
    query = sql.SQL("SELECT id, {} FROM {} WHERE id = ANY(%s)").format(when, sql.Identifier("public", table))
    return {int(r[0]): r[1] for r in conn.execute(query, [list(ids)]).fetchall() if r[1] is not None}


def pairs(source: dict[int, datetime], target: dict[int, datetime]) -> list[tuple[float, float]]:
    """(V1 commit as epoch seconds, lag seconds) for rows present on both sides."""
    return sorted(
        (at.timestamp(), (target[i] - at).total_seconds()) for i, at in source.items() if i in target
    )


@dataclass(frozen=True, slots=True)
class LagStats:
    samples: int
    p50_s: float
    p99_s: float
    max_s: float
    growth_s_per_s: float
    """Least-squares slope of lag over V1 commit time: ~0 when the target keeps up, approaching
    1 − capacity/rate when it does not."""

    @property
    def bounded(self) -> bool:
        return self.growth_s_per_s < BOUNDED_GROWTH or self.max_s < BOUNDED_ANYWAY_S


BOUNDED_GROWTH = 0.1
"""Lag growing by less than 100 ms per second of load counts as bounded: an overloaded target's lag
grows by 1 − capacity/rate, so this flags any rate above ~1.1× what the target sustains."""
BOUNDED_ANYWAY_S = 1.0
"""A step whose every row arrived within a second is bounded whatever the slope (noise in short steps)."""


def stats(points: list[tuple[float, float]]) -> LagStats:
    if len(points) < 2:
        raise ValueError("too few matched rows to measure lag")
    lags = sorted(lag for _, lag in points)
    quantiles = statistics.quantiles(lags, n=100, method="inclusive")
    xs, ys = [t for t, _ in points], [lag for _, lag in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return LagStats(len(points), quantiles[49], quantiles[98], lags[-1], slope)
