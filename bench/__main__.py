"""``python -m bench``: every system, every scenario, one run on this machine's local stack.

    python -m bench            # scale 1.0 (~296K rows), 300K backlog changes, 3 repeats
    python -m bench --quick    # scale 0.05, 1 repeat, short load steps: a few minutes

The benchmark runs on its own stack (``.stack-bench/``, ports +400: see bench/stackenv.py), reseeds
V1 at the chosen scale, then measures initial sync, backlog drain and lag under load for this product
(a: demo mapping, a0: identity mapping), native logical replication (b) and the Debezium JDBC sink
(c), with p (the Python floor: V1's rows copied by two Python processes, nothing else) and f (V2's
write floor: the product's V2 rows written again by binary COPY, foreign keys on) as references of the
initial sync. It prints a table, writes JSON under bench/results/ and stops its stack
(``--keep-stack`` leaves it running).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import psycopg

from bench import (
    lag,
    report,
    scenarios,
    stackenv,  # sets the benchmark's state dir and ports before settings load
    workload,
)
from bench.context import Bench
from bench.systems.base import System
from replicator.demo.load import seed
from replicator.stack.manager import open_stack

FULL = {"scale": 1.0, "repeats": 3, "step_seconds": 30.0, "rates": [1000, 2000, 5000], "search": 3}
QUICK = {"scale": 0.05, "repeats": 1, "step_seconds": 10.0, "rates": [500, 1000, 2000], "search": 1}
BACKLOG_AT_SCALE_1 = 300_000
INITIAL_ONLY = ("a0", "p", "f")
"""Systems measured on the initial sync only: a0 compares the machinery with b, p and f do not stream."""


def _systems(keys: list[str]) -> dict[str, System]:
    from bench.systems.product import product_systems

    every: dict[str, System] = {s.key: s for s in product_systems()}
    if "b" in keys:
        from bench.systems.native import NativeSystem

        every["b"] = NativeSystem()
    if "c" in keys:
        from bench.systems.jdbc import JdbcSinkSystem

        every["c"] = JdbcSinkSystem()
    if "p" in keys:
        from bench.systems.floor import FloorSystem

        every["p"] = FloorSystem()
    if "f" in keys:
        from bench.systems.v2floor import V2FloorSystem

        every["f"] = V2FloorSystem()
    unknown = sorted(set(keys) - set(every))
    if unknown:
        raise SystemExit(f"unknown system(s) {unknown}: choose from a, a0, b, c, p, f")
    return {k: every[k] for k in keys}


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scale, one repeat, short steps")
    parser.add_argument("--scale", type=float, help="demo scale (1.0 ≈ 296K rows)")
    parser.add_argument("--repeats", type=int, help="runs per figure; the median is reported")
    parser.add_argument("--systems", default="a,a0,b,c,p,f", help="comma-separated: a, a0, b, c, p, f")
    parser.add_argument("--scenarios", default="initial,backlog,lag", help="initial, backlog, lag")
    parser.add_argument("--backlog", type=int, help="changes in the backlog (default 300K × scale)")
    parser.add_argument("--rates", help="offered events/s per lag step, comma-separated")
    parser.add_argument("--step-seconds", type=float, help="length of a lag step")
    parser.add_argument(
        "--lag-search",
        type=int,
        help="extra lag steps, each 1.5x the last, while lag stays bounded (full 3, quick 1)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per wait")
    parser.add_argument(
        "--keep-stack", action="store_true", help="leave the benchmark's stack running afterwards"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    finally:
        if not args.keep_stack:  # its Kafka, Connect and clusters would hold cores and memory for nothing
            report.say("stack down (--keep-stack leaves it running)")
            open_stack().down()


def _run(args: argparse.Namespace) -> int:
    mode = dict(QUICK if args.quick else FULL)
    scale = args.scale or float(mode["scale"])  # type: ignore[arg-type]
    repeats = args.repeats or int(mode["repeats"])  # type: ignore[call-overload]
    step_seconds = args.step_seconds or float(mode["step_seconds"])  # type: ignore[arg-type]
    rates = [int(r) for r in args.rates.split(",")] if args.rates else list(mode["rates"])  # type: ignore[call-overload]
    changes = args.backlog or round(BACKLOG_AT_SCALE_1 * scale)
    search = int(mode["search"]) if args.lag_search is None else args.lag_search  # type: ignore[call-overload]
    systems = _systems([k.strip() for k in args.systems.split(",") if k.strip()])
    wanted = {s.strip() for s in args.scenarios.split(",")}

    say = report.say
    started = time.time()
    say(f"stack up ({stackenv.REPO / '.stack-bench'})")
    bench = Bench.open(scale=scale)
    report.check_commit_timestamps(bench)
    for system in systems.values():
        system.teardown(bench)

    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "environment": report.environment(bench),
        "settings": {
            "scale": scale,
            "repeats": repeats,
            "backlog_changes": changes,
            "backlog_mix": {"update": 0.7, "insert": 0.2, "delete": 0.1},
            "backlog_changes_per_txn": 100,
            "lag_step_seconds": step_seconds,
            "lag_rates": rates,
            "lag_search_steps": search,
            "systems": {k: {"label": s.label, **_settings(s)} for k, s in systems.items()},
        },
    }

    # The initial syncs first, interleaved (``_initial_syncs``); then one session per streaming system
    # on a running system: the backlog drains and the lag steps. The JDBC sink goes before the product:
    # the lag steps include half of its maximum (drain) rate.
    order: list[str] = [k for k in ("a0", "c", "b", "p", "f", "a") if k in systems]
    if "initial" in wanted:
        results["initial_sync"] = _initial_syncs(bench, systems, order, repeats=repeats, timeout=args.timeout)
    streaming = {"backlog", "lag"} & wanted
    probes: dict[str, list[float]] = results.setdefault("speed_probe_ms", {})
    sessions = [k for k in order if k not in INITIAL_ONLY] if streaming else []
    for key in sessions:
        system = systems[key]
        probes[key] = [report.speed_probe()]
        generator = _reseed(bench, scale)  # every system starts from the same V1
        scenarios.start_synced(bench, system, timeout=args.timeout)
        if "backlog" in wanted:
            runs = scenarios.backlog_drain(
                bench, system, generator, changes=changes, repeats=repeats, timeout=args.timeout, progress=say
            )
            results.setdefault("backlog_drain", {})[key] = {"median": _median(runs), "runs": runs}
        if "lag" in wanted:
            jdbc = results.get("backlog_drain", {}).get("c", {}).get("median", {}).get("events_per_s")
            steps = sorted({*rates, *([round(jdbc / 2)] if jdbc else [])})
            say(f"{key}: lag under load at {steps} events/s, {step_seconds:.0f}s each")
            lag_runs = [
                scenarios.lag_under_load(
                    bench,
                    system,
                    generator,
                    rates=steps,
                    seconds=step_seconds,
                    timeout=args.timeout,
                    progress=say,
                    search=search,
                )
                for _ in range(repeats)
            ]
            merged = _median_steps(lag_runs)
            results.setdefault("lag_under_load", {})[key] = {
                "steps": merged,
                "limit": lag.limit(merged),
                "runs": lag_runs,
            }
        system.teardown(bench)
        probes[key].append(report.speed_probe())

    results["seconds"] = round(time.time() - started, 1)
    results["initial_sync_ratios_by_round"] = report.paired_ratios(results)
    results["targets"] = report.targets(results)
    path = report.write(results)
    report.print_tables(results)
    say(f"results: {path}")
    return 0


def _initial_syncs(
    bench: Bench, systems: dict[str, System], order: list[str], *, repeats: int, timeout: float
) -> dict[str, Any]:
    """Every system's initial sync of the same V1, the repeats interleaved: round r syncs each system in
    turn, the order rotated by r. The host's speed drifts within minutes (the speed probe, taken before
    each sync, has doubled between two of them), so syncs minutes apart compare fairly where sessions
    half an hour apart did not; ``report.targets`` pairs each round's syncs."""
    _reseed(bench, bench.scale)
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key in order}
    for round_ in range(repeats):
        shift = round_ % len(order)
        for key in order[shift:] + order[:shift]:
            probe = report.speed_probe()
            run = scenarios.initial_sync(bench, systems[key], timeout=timeout)
            runs[key].append({**run, "round": round_ + 1, "speed_probe_ms": probe})
            report.say(f"  {key} initial sync, round {round_ + 1}: {run['seconds']}s (probe {probe:.0f} ms)")
    return {key: {"median": _median(r), "runs": r} for key, r in runs.items()}


def _reseed(bench: Bench, scale: float) -> workload.ChangeGenerator:
    report.say(f"seeding V1 at scale {scale}")
    with (
        psycopg.connect(bench.settings.v1_admin.conninfo()) as v1,
        psycopg.connect(bench.settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=scale)
    with bench.v1() as v1:
        v1.execute("VACUUM ANALYZE")
        return workload.ChangeGenerator.load(v1)


def _settings(system: System) -> dict[str, Any]:
    knobs = getattr(system, "settings", None)
    return dict(knobs()) if callable(knobs) else {}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per numeric field (nested one level), the median over runs; not of the runs' round numbers."""
    out: dict[str, Any] = {}
    for field, first in runs[0].items():
        if field == "round":
            continue
        if isinstance(first, dict):
            out[field] = {k: statistics.median(r[field][k] for r in runs if k in r[field]) for k in first}
        elif isinstance(first, (int, float)) and not isinstance(first, bool):
            out[field] = statistics.median(r[field] for r in runs)
    return out


def _median_steps(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    by_rate: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        for step in run:
            by_rate.setdefault(step["offered_per_s"], []).append(step)
    steps = []
    for rate in sorted(by_rate):
        merged = _median(by_rate[rate])
        merged["bounded"] = all(s["bounded"] for s in by_rate[rate])
        merged["repeats"] = len(by_rate[rate])
        steps.append(merged)
    return steps


if __name__ == "__main__":
    raise SystemExit(main())
