"""``replicator demo run``: the main job, end to end on the local stack.

Steps: stack up → seed (first run, or ``--reseed``) → mapping check → orphan scan → the initial load
(``replicator load``: V1 at one consistent point into V2, parents first, then the connector streaming
from that point) → two workers (one consumer group) until lag is zero → summary of the seed's figures
before and after. On a rerun without ``--reseed`` the connector is already streaming: no load.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
import typer
from psycopg import sql

from replicator.cli.output import emit_json, progress_line, table
from replicator.cli.progress import table_progress
from replicator.connect.client import ConnectClient
from replicator.connect.reset import fresh_connector
from replicator.demo import spec
from replicator.demo.load import seed
from replicator.demo.reset import reset_pipeline
from replicator.drain import DrainState, wait_drained
from replicator.errors import ReplicatorError
from replicator.load.run import default_processes, initial_load
from replicator.mapping.catalog import read_catalog
from replicator.mapping.check import Level, check_mapping
from replicator.mapping.model import Mapping, load_mapping
from replicator.orphans.scan import OrphanScan, scan
from replicator.report.figures import record_counts
from replicator.stack.manager import Stack, open_stack
from replicator.status import read_status
from replicator.worker.app import source_topics

WORKERS = 2
Conn = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class Records:
    """``report``'s record counts, summed: V1 rows (through the mapping) V2 lacks, and of those the rows
    still to migrate (the rest are orphans a relationship's policy keeps out of V2)."""

    not_in_v2: int
    to_migrate: int

    @classmethod
    def count(cls, v1: Conn, v2: Conn, mapping: Mapping) -> Records:
        tables = record_counts(v1, v2, mapping)
        return cls(sum(t.not_in_v2 for t in tables), sum(t.missing for t in tables))


@dataclass(frozen=True, slots=True)
class Before:
    v1_rows: int
    v2_rows: int
    records: Records
    orphans: OrphanScan


def run(
    scale: Annotated[float, typer.Option(help="Demo scale; 1.0 is the seed's figures.")] = 1.0,
    reseed: Annotated[
        bool, typer.Option("--reseed", help="Reload V1/V2 even if the scenario is there.")
    ] = False,
    drain_timeout: Annotated[float, typer.Option(help="Seconds to wait for lag zero.")] = 1800,
    *,
    dry_run: bool = False,
    json: bool = False,
) -> None:
    """The main job (see the module docstring)."""
    stack = open_stack()
    if dry_run:
        for line in plan(stack, scale=scale, reseed=reseed, drain_timeout=drain_timeout):
            progress_line(line)
        return
    timings = {"stack up": stack.up(progress=progress_line)["total"]}
    mapping = load_mapping(stack.settings.mapping_path)
    before = _prepare(stack, mapping, scale=scale, reseed=reseed)
    timings["initial load"], loaded = _load(stack, mapping)
    timings["lag zero"] = _replicate(stack, mapping, timeout=drain_timeout)
    figures = _summary(stack, mapping, before=before, loaded=loaded, timings=timings, scale=scale)
    if json:
        emit_json(figures)
    else:
        _print_summary(figures)


def plan(stack: Stack, *, scale: float, reseed: bool, drain_timeout: float) -> list[str]:
    """What ``run`` would do here, as it stands: which components it starts, whether it seeds and
    loads, and the workers it starts. Reads what is running; changes nothing."""
    components = stack.status()
    lines = [
        f"{c.name}: running" if c.running else f"would start {c.name} on port {c.port}"
        for c in components
        if not c.name.startswith("worker")
    ]
    settings = stack.settings
    up = all(c.running for c in components if c.name in {"postgres-v1", "connect"})
    seeded = registered = False
    if up:
        with psycopg.connect(settings.v1_admin.conninfo()) as v1:
            seeded = _scenario_present(v1)
        registered = ConnectClient(settings.connect_url).status(settings.connector_name) is not None
    if reseed or not seeded:
        lines.append(
            "would stop the workers; remove the connector, its offsets, its slot and its topics; empty the"
            f" pipeline's state; seed V1 and the partial V2 at scale {scale}"
        )
    else:
        lines.append("the scenario is seeded: kept (--reseed to reload it)")
    lines.append("would check the mapping against V1 and V2 and scan V1 for orphaned references")
    if registered and not reseed:
        lines.append(f"{settings.connector_name} is streaming: no initial load")
    else:
        lines.append(
            f"would load V2 from one snapshot of V1 ({default_processes()} processes), then register "
            f"{settings.connector_name}"
        )
    lines.append(
        f"would start {WORKERS} workers (consumer group {settings.consumer_group}) and wait up to "
        f"{drain_timeout:.0f}s for lag zero"
    )
    if not up:
        lines.append("(the stack is not running: whether V1 holds the scenario is known once it is)")
    return lines


def _prepare(stack: Stack, mapping: Mapping, *, scale: float, reseed: bool) -> Before:
    settings = stack.settings
    registered = ConnectClient(settings.connect_url).status(settings.connector_name) is not None
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        if reseed or not _scenario_present(v1):
            if registered and not reseed:
                raise ReplicatorError("the connector exists but V1 has no scenario: run with --reseed")
            for worker in stack.workers():
                worker.stop()
            # A reseeded V1 is loaded again from scratch: no connector, offsets, slot or old events.
            schema = re.escape(mapping.source_schema)
            fresh_connector(settings, topics=rf"{re.escape(settings.topic_prefix)}\.{schema}\..*")
            reset_pipeline(stack.settings, mapping)
            with table_progress("seed") as progress:
                report = seed(v1, v2, scale=scale, progress=progress)
            progress_line(
                f"seeded {sum(report.v1_rows.values()):,} V1 rows in {report.seconds['total']:.1f}s"
            )
        else:
            progress_line("scenario already seeded (use --reseed to reload)")
        findings = check_mapping(mapping, read_catalog(v1, "public"), read_catalog(v2, "public"))
        errors = [f for f in findings if f.level is Level.ERROR]
        for finding in errors:
            progress_line(str(finding))
        if errors:
            raise typer.Exit(1)
        progress_line(
            f"mapping: {len(mapping.tables)} table mappings, {len(mapping.relationships)} relationships OK"
        )
        return Before(
            v1_rows=sum(_rows(v1, sorted({t.source for t in mapping.tables})).values()),
            v2_rows=sum(_rows(v2, sorted({t.target for t in mapping.tables})).values()),
            records=Records.count(v1, v2, mapping),
            orphans=scan(v1, mapping),
        )


def _load(stack: Stack, mapping: Mapping) -> tuple[float, int]:
    """The initial load, unless the connector already streams (a rerun without --reseed)."""
    settings = stack.settings
    started = time.monotonic()
    if ConnectClient(settings.connect_url).status(settings.connector_name) is not None:
        progress_line(f"{settings.connector_name} is already streaming: no initial load")
        return 0.0, 0
    report = initial_load(settings, mapping, progress=progress_line)
    progress_line(f"initial load: {report.total_rows:,} V1 rows in {report.seconds:.1f}s")
    return time.monotonic() - started, report.total_rows


def _replicate(stack: Stack, mapping: Mapping, *, timeout: float) -> float:
    settings = stack.settings
    started = time.monotonic()
    for index in range(1, WORKERS + 1):
        stack.start_worker(index)
    progress_line(f"{WORKERS} workers started (consumer group {settings.consumer_group})")
    workers = [w for w in stack.workers() if w.running()]

    def report(s: DrainState) -> None:
        dead = [w for w in workers if not w.running()]
        if dead:
            raise ReplicatorError(f"{dead[0].name} exited; its log: {dead[0].log_path}")
        progress_line(
            f"replicating: {s.consumer_lag:,} messages behind, {s.parked:,} parked"
            f"{'' if s.slot_caught_up else ', Debezium still shipping'}"
        )

    state = wait_drained(settings, source_topics(mapping), timeout=timeout, progress=report)
    if not state.zero:
        raise ReplicatorError(f"lag is not zero after {timeout:.0f}s: {state}")
    elapsed = time.monotonic() - started
    progress_line(f"lag zero after {elapsed:.1f}s")
    return elapsed


def _summary(
    stack: Stack, mapping: Mapping, *, before: Before, loaded: int, timings: dict[str, float], scale: float
) -> dict[str, Any]:
    """The seed's figures before and after, measured (``--json`` prints this as it is)."""
    settings = stack.settings
    state = read_status(settings, settings.topic_prefix)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        v2_after = sum(_rows(v2, sorted({t.target for t in mapping.tables})).values())
        after = Records.count(v1, v2, mapping)
    totals = state.ledger.totals()
    reasons = state.as_dict()["dead_letters_by_reason"]
    orphans = before.orphans
    return {
        "scale": scale,
        "v1_rows": before.v1_rows,
        "v2_rows": {"before": before.v2_rows, "after": v2_after},
        "v1_rows_not_in_v2": {
            "seed": sum(spec.missing_in_v2(scale).values()),
            "before": before.records.not_in_v2,
            "after": after.not_in_v2,
        },
        "to_migrate": {"before": before.records.to_migrate, "after": after.to_migrate},
        "fk_relationships": {"total": len(orphans.relationships), "clean_in_v1": orphans.clean},
        "orphaned_references": {
            "total": orphans.total,
            "relationships": orphans.with_orphans,
            "set_null": totals.get("orphan_set_null", 0),
            "dropped": totals.get("orphan_dropped", 0),
            "dead_lettered": reasons.get("ORPHAN_FK", 0),
        },
        "loaded_v1_rows": loaded,
        "events_applied": totals.get("applied", 0),
        "dead_letters_by_reason": reasons,
        "accounting": {
            "balanced": state.balanced,
            "violation": None if state.balanced else state.ledger.violation(),
        },
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }


def _print_summary(figures: dict[str, Any]) -> None:
    missing, orphans, v2 = figures["v1_rows_not_in_v2"], figures["orphaned_references"], figures["v2_rows"]
    to_migrate = figures["to_migrate"]
    fks = figures["fk_relationships"]
    table(
        "the seed's figures: before → after replication",
        ["figure", "before", "after"],
        [
            ("V1 rows", f"{figures['v1_rows']:,}", f"{figures['v1_rows']:,}"),
            ("V2 rows", f"{v2['before']:,}", f"{v2['after']:,}"),
            (
                f"V1 rows not in V2 (the seed: {missing['seed']:,})",
                f"{missing['before']:,}",
                f"{missing['after']:,}",
            ),
            (
                "  of which to migrate (the rest: orphans kept out by policy)",
                f"{to_migrate['before']:,}",
                f"{to_migrate['after']:,}",
            ),
            ("FK relationships clean in V1", f"{fks['clean_in_v1']}/{fks['total']}", "(V1 unchanged)"),
            (
                "orphaned references",
                f"{orphans['total']:,} in {orphans['relationships']} relationships",
                f"set null {orphans['set_null']:,}, dropped {orphans['dropped']:,}, "
                f"dead-lettered {orphans['dead_lettered']:,}",
            ),
        ],
    )
    reasons = figures["dead_letters_by_reason"]
    accounting = figures["accounting"]
    table(
        "replication",
        ["figure", "value"],
        [
            ("V1 rows read by the initial load", f"{figures['loaded_v1_rows']:,}"),
            ("events applied", f"{figures['events_applied']:,}"),
            ("dead letters by reason", ", ".join(f"{r} {n:,}" for r, n in reasons.items()) or "none"),
            (
                "accounting",
                "adds up" if accounting["balanced"] else f"DOES NOT add up: {accounting['violation']}",
            ),
            *((f"time: {k}", f"{v:.1f}s") for k, v in figures["timings_s"].items()),
        ],
    )


def _scenario_present(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('public.audit_logs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _rows(conn: Conn, tables: list[str]) -> dict[str, int]:
    out = {}
    for name in tables:
        row = conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(name))).fetchone()
        out[name] = int(row[0]) if row else 0  # type: ignore[call-overload]
    return out
