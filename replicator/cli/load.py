"""``replicator load``: the initial load of V2 from V1, then the connector streaming from that point."""

from __future__ import annotations

import resource
from typing import Annotated

import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.load.order import load_groups
from replicator.load.run import initial_load
from replicator.mapping.model import load_mapping
from replicator.settings import load_settings


def _cpu_s() -> float:
    """CPU seconds of this command and its loading processes (the benchmark reads them)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 3)


def load(  # noqa: PLR0917 - typer maps each parameter to one option of the command
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    batch_rows: Annotated[int, typer.Option(min=1, help="V1 rows per V2 transaction.")] = 5000,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Loading processes, each a share of every table's rows (default: one per CPU this command"
            " may use, up to 8).",
        ),
    ] = None,
    replace_slot: Annotated[
        bool, typer.Option("--replace-slot", help="Drop an idle slot left by an interrupted load first.")
    ] = False,
    reset_state: Annotated[
        bool,
        typer.Option(
            "--reset-state",
            help="Empty the pipeline's state in V2 first (row versions, parked changes, books): starting over"
            " after the stream ran.",
        ),
    ] = False,
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the connector afterwards.")
    ] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Load V2 from one consistent snapshot of V1, parents first, then start Debezium at that point.

    Runs before the connector's first start (it creates the connector's replication slot). Rows go
    through the workers' own mapping, FK resolution, orphan policies and dead-letter topic. After an
    interruption, --replace-slot loads again from a new snapshot, whose rows overwrite the older ones.
    """
    mapping = load_mapping(mapping_path)
    groups = load_groups(mapping)
    if dry_run:
        for number, group in enumerate(groups, 1):
            progress_line(f"would load group {number}: {', '.join(group)}")
        return
    report = initial_load(
        load_settings(),
        mapping,
        batch_rows=batch_rows,
        processes=processes,
        replace_slot=replace_slot,
        reset_state=reset_state,
        register=register,
        progress=progress_line,
        mapping_source=str(mapping_path),
    )
    outcomes = report.ledger.totals()
    if json:
        emit_json(
            {
                "slot": report.slot,
                "consistent_point": report.consistent_point,
                "rows": report.rows,
                "outcomes": outcomes,
                "dead_letters": report.dead_letters,
                "seconds": round(report.seconds, 3),
                "connector_registered": report.registered,
                "cpu_s": _cpu_s(),
                "peak_rss_mb": round(report.peak_rss_mb, 1),
            }
        )
        return
    table("initial load", ["outcome", "events"], [(k, f"{v:,}") for k, v in sorted(outcomes.items())])
    rate = report.total_rows / max(report.seconds, 1e-9)
    progress_line(
        f"loaded {report.total_rows:,} V1 rows in {report.seconds:.1f}s ({rate:,.0f} rows/s);"
        f" {report.dead_letters:,} dead letters"
    )
