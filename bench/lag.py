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


SEARCH_FACTOR = 1.5
"""Past the given rates, each extra step offers this much more than the last, rounded to 500/s."""
OFFERED_SHORTFALL = 0.9
"""A step that achieved less than this share of its offered rate found the limit of V1 and the load
generator, not of the target: offering more would not load the target more."""


def next_rate(steps: Sequence[dict[str, float | bool]], rates: Sequence[int], extra: int) -> int | None:
    """The next step's offered rate: the given ``rates`` in order, then, while every step so far was
    bounded and the generator kept up, up to ``extra`` steps each ``SEARCH_FACTOR`` above the last;
    None once the search is over."""
    if steps and not steps[-1]["bounded"]:
        return None
    if len(steps) < len(rates):
        return rates[len(steps)]
    if len(steps) >= len(rates) + extra or not steps:
        return None
    last = steps[-1]
    if float(last["achieved_per_s"]) < OFFERED_SHORTFALL * float(last["offered_per_s"]):
        return None
    return int(round(float(last["offered_per_s"]) * SEARCH_FACTOR / 500) * 500)


def limit(steps: Sequence[dict[str, float | bool]]) -> dict[str, float | None]:
    """Where lag stops being bounded: the highest offered rate with it and every lower step bounded,
    the lowest step that was not (None: bounded at every rate offered), and the highest rate the
    generator achieved while lag stayed bounded."""
    ordered = sorted(steps, key=lambda s: float(s["offered_per_s"]))
    bounded_up_to: float | None = None
    achieved: float | None = None
    for step in ordered:
        if not step["bounded"]:
            return {
                "bounded_up_to_per_s": bounded_up_to,
                "unbounded_from_per_s": float(step["offered_per_s"]),
                "bounded_achieved_per_s": achieved,
            }
        bounded_up_to = float(step["offered_per_s"])
        achieved = max(achieved or 0.0, float(step["achieved_per_s"]))
    return {
        "bounded_up_to_per_s": bounded_up_to,
        "unbounded_from_per_s": None,
        "bounded_achieved_per_s": achieved,
    }
