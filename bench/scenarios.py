"""The three measured scenarios. Each drives one ``System`` on the shared stack and returns plain dicts
(the JSON written under bench/results/); nothing here prints."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench import lag, workload
from bench.context import Bench
from bench.resources import CpuMeter, peak_rss_mb
from bench.systems.base import System
from replicator.poll import until

POLL_S = 0.5

Progress = Callable[[str], None]


def shared_components(bench: Bench) -> dict[str, list[int]]:
    names = {"postgres-v1": "pg-v1", "postgres-v2": "pg-v2", "kafka": "kafka", "connect": "connect"}
    return {names[s.name]: [s.pid] for s in bench.stack.status() if s.pid and s.name in names}


def _meter(bench: Bench, system: System) -> CpuMeter:
    return CpuMeter(lambda: {**shared_components(bench), **system.processes(bench)})


def _per_1k(cpu: dict[str, float], events: int) -> dict[str, float]:
    return {name: round(seconds * 1000 / events, 4) for name, seconds in cpu.items()} if events else {}


def _rss(bench: Bench, system: System) -> float:
    pids = system.processes(bench).get("workers", [])
    return max((peak_rss_mb(p) for p in pids), default=0.0)


def initial_sync(
    bench: Bench, system: System, *, timeout: float, keep_running: bool = False
) -> dict[str, Any]:
    """From nothing to every V1 row committed in the target (then torn down unless ``keep_running``)."""
    rows = sum(bench.v1_counts().values())
    system.setup(bench)
    meter = _meter(bench, system)
    meter.start()
    started = time.monotonic()
    system.start(bench)
    until(lambda: system.synced(bench), f"{system.key} initial sync", timeout, interval=POLL_S)
    seconds = time.monotonic() - started  # from before start(): registration and snapshot included
    cpu = meter.stop()
    usage = system.start_usage()
    cpu.update({name: cpu_s for name, (cpu_s, _rss_mb) in usage.items()})
    result = {
        "seconds": round(seconds, 2),
        "rows": rows,
        "rows_per_s": round(rows / seconds, 1),
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_s_per_1k_events": _per_1k(cpu, rows),
        "worker_peak_rss_mb": round(max([_rss(bench, system), *(rss for _cpu, rss in usage.values())]), 1),
    }
    committed = system.rows_committed_at()
    if committed is not None:  # the product: its load's end, before its workers started and drained
        result["rows_committed_s"] = round(committed - started, 2)
    if not keep_running:
        system.teardown(bench)
    return result


def start_synced(bench: Bench, system: System, *, timeout: float) -> None:
    """Set up and start ``system`` and wait for its initial sync, unmeasured."""
    system.setup(bench)
    system.start(bench)
    until(lambda: system.synced(bench), f"{system.key} initial sync", timeout, interval=POLL_S)


def backlog_drain(
    bench: Bench,
    system: System,
    generator: workload.ChangeGenerator,
    *,
    changes: int,
    repeats: int,
    timeout: float,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Consumers stopped, ``changes`` mixed changes to V1, then the time to apply them all. ``system``
    runs, caught up. A system whose consumers are processes started for the drain (the product's
    workers) also reports their start-up CPU, measured apart with nothing to consume, and the CPU per
    1K events without it."""
    runs = []
    for repeat in range(repeats):
        system.pause(bench)
        startup = getattr(system, "startup_cpu", None)
        startup_s = startup(bench, timeout=timeout) if startup else None
        with bench.v1() as v1:
            events, write_s = workload.backlog(v1, generator, changes)
        lsn = bench.v1_lsn()
        slot = getattr(system, "source_slot", None)
        if slot:  # the backlog must sit in Kafka before the consumers start
            from bench.systems.product import slot_confirmed

            until(
                partial(slot_confirmed, bench, slot, lsn), f"{system.key} capture", timeout, interval=POLL_S
            )
        meter = _meter(bench, system)
        meter.start()
        started = time.monotonic()
        system.resume(bench)
        until(partial(system.caught_up, bench, lsn), f"{system.key} drain", timeout, interval=POLL_S)
        seconds = time.monotonic() - started  # from before resume(): consumer start-up included
        cpu = meter.stop()
        run = {
            "events": events,
            "v1_write_s": round(write_s, 2),
            "seconds": round(seconds, 2),
            "events_per_s": round(events / seconds, 1),
            "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "cpu_s_per_1k_events": _per_1k(cpu, events),
            "worker_peak_rss_mb": round(_rss(bench, system), 1),
        }
        if startup_s is not None and "workers" in cpu:
            run["workers_startup_cpu_s"] = round(startup_s, 2)
            steady = {"workers": max(0.0, cpu["workers"] - startup_s)}
            run["cpu_s_per_1k_events_after_startup"] = _per_1k(steady, events)
        runs.append(run)
        progress(f"  {system.key} backlog #{repeat + 1}: {events:,} events in {seconds:.1f}s")
    return runs


def lag_under_load(
    bench: Bench,
    system: System,
    generator: workload.ChangeGenerator,
    *,
    rates: list[int],
    seconds: float,
    timeout: float,
    progress: Progress,
    search: int = 0,
) -> list[dict[str, Any]]:
    """Offered rates in steps; commit-to-commit lag of the rows inserted during each step. After
    ``rates``, while lag stays bounded, up to ``search`` higher steps look for the rate where it stops
    (``lag.next_rate``); stops after the first step whose lag is not bounded. ``system`` runs, caught
    up."""
    steps: list[dict[str, Any]] = []
    while (rate := lag.next_rate(steps, rates, search)) is not None:
        meter = _meter(bench, system)
        meter.start()
        with bench.v1() as v1:
            offered = workload.paced(v1, generator, rate=rate, seconds=seconds)
        lsn = bench.v1_lsn()
        drain = until(
            partial(system.caught_up, bench, lsn), f"{system.key} at {rate}/s", timeout, interval=POLL_S
        )
        cpu = meter.stop()
        points: list[tuple[float, float]] = []
        with bench.v1() as v1:
            for table, ids in offered.inserted.items():
                dbname, target = system.target(bench, table)
                with bench.v2(dbname) as conn:
                    arrival = getattr(system, "arrival_column", None)
                    points += lag.pairs(
                        lag.commit_times(v1, table, ids),
                        lag.commit_times(conn, target, ids, arrival_column=arrival),
                    )
        measured = lag.stats(sorted(points))
        step = {
            "offered_per_s": rate,
            "achieved_per_s": round(offered.achieved_per_s, 1),
            "events": offered.events,
            "samples": measured.samples,
            "p50_s": round(measured.p50_s, 3),
            "p99_s": round(measured.p99_s, 3),
            "max_s": round(measured.max_s, 3),
            "growth_s_per_s": round(measured.growth_s_per_s, 4),
            "bounded": measured.bounded,
            "drain_after_load_s": round(drain, 2),
            "cpu_s_per_1k_events": _per_1k(cpu, offered.events),
        }
        steps.append(step)
        progress(
            f"  {system.key} {rate:,}/s (achieved {offered.achieved_per_s:,.0f}/s): "
            f"p50 {measured.p50_s:.3f}s "
            f"p99 {measured.p99_s:.3f}s {'bounded' if measured.bounded else 'NOT bounded'}"
        )
    return steps
