"""``replicator verify``: V2 against V1 through the mapping — counts, chunk checksums, row diffs.

Exit codes: 0 every table matches; 1 a mismatch (or, continuous, the last cycle found one or could
not finish); 2 usage/configuration (including an unfinished run without ``--resume``/``--restart``).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import orjson
import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.cli.progress import table_progress
from replicator.mapping.model import load_mapping
from replicator.settings import load_settings
from replicator.verify.compare import TableResult
from replicator.verify.run import DEFAULT_CHUNK_ROWS

DEFAULT_METRICS_PORT = 56090


def _summary(results: list[TableResult]) -> None:
    table(
        "verification (V1 through the mapping vs V2)",
        ["table", "status", "expected", "actual", "missing", "extra", "different"],
        [
            (
                r.table,
                r.status,
                f"{r.rows_expected:,}",
                f"{r.rows_actual:,}",
                r.counts["missing"],
                r.counts["extra"],
                r.counts["different"],
            )
            for r in results
        ],
    )
    for r in results:
        for item in r.sample:
            columns = f" columns {', '.join(item['columns'])}" if item.get("columns") else ""
            key = orjson.dumps(item["key"]).decode()
            progress_line(f"{r.table}: {item['kind']} {key}{columns}")
        if r.mismatches > len(r.sample):
            progress_line(f"{r.table}: … {r.mismatches - len(r.sample)} more")
        if r.unverified:
            progress_line(
                f"{r.table}: not compared (V2 default, not fed by every source): {', '.join(r.unverified)}"
            )
        if r.error:
            progress_line(f"{r.table}: error: {r.error}")
    _repairs(results)


def _repairs(results: list[TableResult]) -> None:
    """The command that fixes each kind of mismatch found, with the tables it was found in."""
    for kinds, command in ((("missing", "different"), "repair missing"), (("extra",), "repair extra")):
        found = [r.table for r in results if any(r.counts[k] for k in kinds)]
        if found:
            options = " ".join(f"--table {t}" for t in found)
            progress_line(f"{' and '.join(kinds)} rows: `replicator {command} {options}` (--dry-run first)")


def verify(  # noqa: PLR0917 - typer maps each parameter to one option of the command
    tables: Annotated[
        list[str] | None, typer.Option("--table", help="V2 table to verify (repeatable; default: all).")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="JSON on stdout (continuous: one line per cycle).")
    ] = False,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per checksum chunk.")
    ] = DEFAULT_CHUNK_ROWS,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an unfinished run.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an unfinished run.")] = False,
    continuous: Annotated[
        bool,
        typer.Option("--continuous", help="Verify again every --interval; report only fenced mismatches."),
    ] = False,
    interval: Annotated[float, typer.Option("--interval", min=0, help="Seconds between cycles.")] = 60.0,
    fence_timeout: Annotated[
        float, typer.Option("--fence-timeout", min=1, help="Longest wait for replication to pass a read.")
    ] = 300.0,
    cycles: Annotated[int | None, typer.Option("--cycles", min=1, help="Stop after N cycles.")] = None,
    metrics_port: Annotated[
        int, typer.Option("--metrics-port", min=0, max=65535, help="Serve /metrics here (0: off).")
    ] = DEFAULT_METRICS_PORT,
    mapping_path: MappingOpt = DEFAULT_MAPPING,
) -> None:
    """Compare every V2 table with V1 through the mapping (resumable; --continuous for the parallel run).

    Results go to replicator.verification; a progress bar on a terminal, plain lines otherwise.
    """
    if resume and restart:
        raise typer.BadParameter("--resume and --restart exclude each other")
    if continuous and (resume or restart):
        raise typer.BadParameter("--continuous keeps no resume state: drop --resume/--restart")
    settings = load_settings()
    mapping = load_mapping(mapping_path)
    if continuous:
        _continuous(
            settings=settings,
            mapping=mapping,
            tables=tables,
            json=json,
            chunk_rows=chunk_rows,
            interval=interval,
            fence_timeout=fence_timeout,
            cycles=cycles,
            metrics_port=metrics_port,
        )
        return
    from replicator.verify.run import verify as run_verify

    with table_progress("verify") as progress:
        run = run_verify(
            settings,
            mapping,
            tables=tables,
            chunk_rows=chunk_rows,
            resume=resume,
            restart=restart,
            progress=progress,
        )
    if json:
        emit_json(
            {"passed": run.passed, "resumed": run.resumed, "tables": [r.as_dict() for r in run.results]}
        )
    else:
        if run.resumed:
            progress_line("resumed an unfinished run")
        _summary(run.results)
    if not run.passed:
        raise typer.Exit(1)


def _continuous(
    *,
    settings: Any,
    mapping: Any,
    tables: list[str] | None,
    json: bool,
    chunk_rows: int,
    interval: float,
    fence_timeout: float,
    cycles: int | None,
    metrics_port: int,
) -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    from replicator.metrics import Metrics
    from replicator.verify.continuous import Cycle, run_continuous

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    server = None
    if metrics_port:
        server, _ = start_http_server(metrics_port, addr=settings.worker_web_host, registry=registry)
        progress_line(f"metrics on http://{settings.worker_web_host}:{metrics_port}/metrics")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def report(cycle: Cycle) -> None:
        if json:
            line = {
                "cycle": cycle.number,
                "passed": cycle.passed,
                "tables": [r.as_dict() for r in cycle.results],
            }
            print(orjson.dumps(line).decode(), flush=True)
            return
        bad = [r for r in cycle.results if not r.passed]
        in_flight = sum(r.in_flight for r in cycle.results)
        progress_line(
            f"cycle {cycle.number}: {len(cycle.results) - len(bad)}/{len(cycle.results)} tables match"
            f" ({in_flight} rows in flight, re-checked next cycle)"
        )
        if bad:
            _summary(bad)

    try:
        last = run_continuous(
            settings,
            mapping,
            tables=tables,
            chunk_rows=chunk_rows,
            interval=interval,
            fence_timeout=fence_timeout,
            cycles=cycles,
            metrics=metrics,
            on_cycle=report,
            stop=stop,
        )
    finally:
        if server is not None:
            server.shutdown()
    if last is None or not last.passed:
        raise typer.Exit(1)
