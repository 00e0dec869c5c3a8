"""The benchmark's output: the environment it ran in, the targets' verdicts, tables and JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import timeit
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.context import Bench
from bench.stackenv import REPO
from replicator.stack.layout import DEBEZIUM_POM, KAFKA_POM

RESULTS = REPO / "bench" / "results"

LABELS = {
    "a": "replicator, demo mapping",
    "a0": "replicator, identity mapping",
    "b": "native logical replication",
    "c": "Debezium JDBC sink",
    "p": "Python COPY floor (no mapping)",
    "f": "V2 write floor (FKs on)",
}
PAIRS = (("a", "b"), ("a0", "b"), ("p", "b"), ("f", "b"), ("a", "p"), ("a0", "p"), ("a", "f"))
"""Initial-sync ratios reported by round: the target's (a / b), the machinery's (a0 / b), the floors'
(p / b: Python itself reading and writing rows; f / b: V2 itself taking the demo's rows with its
foreign keys on) and the product's overhead over each floor."""


SPEED_PROBE = "sum(range(1_000_000))"


def speed_probe() -> float:
    """Milliseconds for a fixed pure-Python loop, the median of 15 timings: this machine's speed at that
    moment (lower is faster). This host's speed drifts (the same loop took 17 and 33 ms within a
    minute; the same load 13 and 21 s within an hour). Recorded around each system's session, it shows
    whether two figures were measured on the same machine in effect."""
    return round(statistics.median(timeit.repeat(SPEED_PROBE, number=1, repeat=15)) * 1000, 1)


def say(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", flush=True)


def check_commit_timestamps(bench: Bench) -> None:
    for name, conn in (("V1", bench.v1()), ("V2", bench.v2())):
        with conn:
            value = conn.execute("SHOW track_commit_timestamp").fetchone()
        if not value or value[0] != "on":
            raise SystemExit(
                f"{name} runs without track_commit_timestamp, which the lag scenario reads. The stack "
                "writes it at init: recreate the benchmark stack with "
                "`REPLICATOR_STATE_DIR=.stack-bench replicator stack down --purge` (ports as in "
                "bench/stackenv.py) and run again."
            )


def _pom_version(pom: Path, prop: str) -> str:
    match = re.search(rf"<{re.escape(prop)}>([^<]+)</", pom.read_text())
    return match.group(1) if match else "?"


def environment(bench: Bench) -> dict[str, Any]:
    with bench.v1() as v1:
        pg = str(v1.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "replicator", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "git_commit": commit + ("+changes" if dirty else ""),
        "cpus": len(os.sched_getaffinity(0)),  # the CPUs this run may use (taskset), not the host's
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "postgresql": pg,
        "kafka": _pom_version(KAFKA_POM, "kafka.version"),
        "debezium": _pom_version(DEBEZIUM_POM, "debezium.version"),
        "faust_streaming": metadata.version("faust-streaming"),
        "psycopg": metadata.version("psycopg"),
    }


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _verdict(name: str, value: float | None, target: str, met: bool | None) -> dict[str, Any]:
    return {"target": name, "value": None if value is None else round(value, 3), "wanted": target, "met": met}


def paired_ratio(results: dict[str, Any], top: str, bottom: str) -> float | None:
    """The median over rounds of ``top``'s initial sync time over ``bottom``'s in the same round (runs
    interleaved by round: ``bench.__main__._initial_syncs``); None without rounds."""
    by_round: dict[int, dict[str, float]] = {}
    for key in (top, bottom):
        for run in _get(results, "initial_sync", key, "runs") or []:
            if "round" in run and run.get("seconds"):
                by_round.setdefault(run["round"], {})[key] = run["seconds"]
    ratios = [r[top] / r[bottom] for r in by_round.values() if len(r) == 2]
    return statistics.median(ratios) if ratios else None


def paired_ratios(results: dict[str, Any]) -> dict[str, float]:
    """``paired_ratio`` of each of ``PAIRS`` the run has, keyed "a / b"."""
    out = {}
    for top, bottom in PAIRS:
        ratio = paired_ratio(results, top, bottom)
        if ratio is not None:
            out[f"{top} / {bottom}"] = round(ratio, 3)
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for the core, each a ratio (or figure) from this run."""
    out = []
    a_sync, b_sync = (_get(results, "initial_sync", k, "median", "seconds") for k in ("a", "b"))
    ratio = a_sync / b_sync if a_sync and b_sync else None
    out.append(
        _verdict(
            "initial sync a / b (time)", ratio, "≤ 3 (never > 10)", None if ratio is None else ratio <= 3
        )
    )
    paired = paired_ratio(results, "a", "b")
    if paired is not None:
        out.append(_verdict("initial sync a / b, median of rounds", paired, "≤ 3 (never > 10)", paired <= 3))
    rates = {k: _get(results, "backlog_drain", k, "median", "events_per_s") for k in ("a", "b", "c")}
    if rates["a"] and rates["c"]:
        r = rates["a"] / rates["c"]
        out.append(_verdict("backlog drain a / c (rate)", r, "≥ 2", r >= 2))
    if rates["a"] and rates["b"]:
        r = rates["a"] / rates["b"]
        out.append(_verdict("backlog drain a / b (rate)", r, "≥ 0.4", r >= 0.4))
    if rates["c"]:
        half = round(rates["c"] / 2)
        step = next(
            (s for s in _get(results, "lag_under_load", "a", "steps") or [] if s["offered_per_s"] == half),
            None,
        )
        p99 = step["p99_s"] if step else None
        out.append(
            _verdict(
                f"p99 lag of a at {half:,}/s (½ of c's max)", p99, "≤ 1 s", None if p99 is None else p99 <= 1
            )
        )
    cpu = _get(results, "backlog_drain", "a", "median", "cpu_s_per_1k_events", "workers")
    out.append(
        _verdict(
            "worker CPU ms per 1K events (backlog)",
            None if cpu is None else cpu * 1000,
            "≤ 30",
            None if cpu is None else cpu * 1000 <= 30,
        )
    )
    steady = _get(results, "backlog_drain", "a", "median", "cpu_s_per_1k_events_after_startup", "workers")
    if steady is not None:
        startup = _get(results, "backlog_drain", "a", "median", "workers_startup_cpu_s")
        out.append(
            _verdict(
                f"worker CPU ms per 1K events (backlog, start-up of {startup:.1f} CPU s excluded)",
                steady * 1000,
                "≤ 30",
                steady * 1000 <= 30,
            )
        )
    rss = max(
        [
            v
            for v in (
                _get(results, s, "a", "median", "worker_peak_rss_mb")
                for s in ("initial_sync", "backlog_drain")
            )
            if v
        ]
        or [0]
    )
    out.append(_verdict("worker peak RSS MB", rss or None, "≤ 300", (rss <= 300) if rss else None))
    return out


def limit_text(limit: dict[str, Any] | None) -> str:
    """``lag.limit`` in words."""
    limit = limit or {}
    up_to, beyond = limit.get("bounded_up_to_per_s"), limit.get("unbounded_from_per_s")
    if up_to is None and beyond is None:
        return "no lag step measured"
    if beyond is None:
        achieved = limit.get("bounded_achieved_per_s") or 0
        return f"lag bounded at every rate offered, up to {up_to:,.0f}/s (V1 took {achieved:,.0f}/s)"
    if up_to is None:
        return f"lag not bounded from the first step, {beyond:,.0f}/s"
    return f"lag bounded up to {up_to:,.0f}/s, not bounded from {beyond:,.0f}/s"


def write(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")
    path = RESULTS / f"bench-{results['mode']}-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    return path


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print(_row(header, widths))
    print(_row(["-" * w for w in widths], widths))
    for row in rows:
        print(_row(row, widths))


def _cpu(figures: dict[str, float]) -> str:
    return " ".join(f"{k}={v * 1000:.0f}" for k, v in sorted(figures.items()))


def print_tables(results: dict[str, Any]) -> None:
    env = results["environment"]
    print(
        f"\nreplicator {env['git_commit']} · PostgreSQL {env['postgresql']} · Kafka {env['kafka']} · "
        f"Debezium {env['debezium']} · {env['cpus']} CPUs · scale {results['settings']['scale']} · "
        f"{results['settings']['repeats']} repeat(s), medians"
    )
    probes = results.get("speed_probe_ms", {})
    if probes:
        spans = " · ".join(f"{k} {'/'.join(f'{ms:.0f}' for ms in v)}" for k, v in probes.items())
        print(f"speed probe, ms before/after each system's session (lower is faster): {spans}")
    sync = results.get("initial_sync", {})
    b = _get(results, "initial_sync", "b", "median", "seconds")
    _table(
        "Initial sync (time until every V1 row is committed in the target)",
        ["system", "seconds", "rows/s", "× native", "CPU ms per 1K rows", "worker RSS MB"],
        [
            [
                LABELS.get(k, k),
                f"{m['seconds']:.1f}",
                f"{m['rows_per_s']:,.0f}",
                f"{m['seconds'] / b:.1f}" if b else "-",
                _cpu(m["cpu_s_per_1k_events"]),
                f"{m['worker_peak_rss_mb']:.0f}" if m.get("worker_peak_rss_mb") else "-",
            ]
            for k, m in ((k, v["median"]) for k, v in sync.items())
        ],
    )
    rounds: dict[int, list[str]] = {}
    for key, entry in sync.items():
        for run in entry.get("runs", []):
            if "round" in run:
                probe = f", {run['speed_probe_ms']:.0f} ms" if "speed_probe_ms" in run else ""
                load = f" (load {run['rows_committed_s']:.1f} s)" if "rows_committed_s" in run else ""
                rounds.setdefault(run["round"], []).append(f"{key} {run['seconds']:.1f} s{load}{probe}")
    for number, figures in sorted(rounds.items()):
        print(f"  round {number} (seconds, speed probe): {' · '.join(figures)}")
    for pair, ratio in paired_ratios(results).items():
        print(f"  {pair}, the median of the rounds' ratios: {ratio:.2f}")
    drain = results.get("backlog_drain", {})
    b_rate = _get(results, "backlog_drain", "b", "median", "events_per_s")
    c_rate = _get(results, "backlog_drain", "c", "median", "events_per_s")
    _table(
        f"Backlog drain ({results['settings']['backlog_changes']:,} changes: "
        "70% updates, 20% inserts, 10% deletes)",
        ["system", "seconds", "events/s", "× native", "× JDBC sink", "CPU ms per 1K events", "worker RSS MB"],
        [
            [
                LABELS.get(k, k),
                f"{m['seconds']:.1f}",
                f"{m['events_per_s']:,.0f}",
                f"{m['events_per_s'] / b_rate:.2f}" if b_rate else "-",
                f"{m['events_per_s'] / c_rate:.2f}" if c_rate else "-",
                _cpu(m["cpu_s_per_1k_events"]),
                f"{m['worker_peak_rss_mb']:.0f}" if m.get("worker_peak_rss_mb") else "-",
            ]
            for k, m in ((k, v["median"]) for k, v in drain.items())
        ],
    )
    rows = []
    for key, entry in results.get("lag_under_load", {}).items():
        for step in entry["steps"]:
            rows.append(
                [
                    LABELS.get(key, key),
                    f"{step['offered_per_s']:,.0f}",
                    f"{step['achieved_per_s']:,.0f}",
                    f"{step['p50_s']:.3f}",
                    f"{step['p99_s']:.3f}",
                    f"{step['growth_s_per_s']:+.3f}",
                    "yes" if step["bounded"] else "NO",
                ]
            )
    _table(
        "Lag under load (commit-to-commit, rows inserted during each step)",
        ["system", "offered/s", "achieved/s", "p50 s", "p99 s", "growth s/s", "bounded"],
        rows,
    )
    for key, entry in results.get("lag_under_load", {}).items():
        print(f"  {LABELS.get(key, key)}: {limit_text(entry.get('limit'))}")
    _table(
        "Targets for the core (ratios from this run)",
        ["target", "value", "wanted", "met"],
        [
            [
                t["target"],
                "-" if t["value"] is None else f"{t['value']:g}",
                t["wanted"],
                {True: "yes", False: "NO", None: "-"}[t["met"]],
            ]
            for t in results.get("targets", [])
        ],
    )
