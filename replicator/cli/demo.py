"""``replicator demo seed``: the seed-scale real-estate brokerage scenario in V1 and a partial V2."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from replicator.cli.output import emit_json, progress_line, table
from replicator.cli.progress import table_progress
from replicator.demo import spec
from replicator.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="The demo scenario.")


@app.command("run")
def run_command(
    scale: Annotated[float, typer.Option(help="Demo scale; 1.0 is the seed's figures.")] = 1.0,
    reseed: Annotated[
        bool, typer.Option("--reseed", help="Reload V1/V2 even if the scenario is there.")
    ] = False,
    drain_timeout: Annotated[float, typer.Option(help="Seconds to wait for lag zero.")] = 1800,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what it would do; change nothing.")] = False,
    json: Annotated[bool, typer.Option("--json", help="The summary as JSON on stdout.")] = False,
) -> None:
    """The main job: stack up, seed, check the mapping, scan orphans, load V2, replicate to lag zero,
    summarize the seed's figures before and after."""
    from replicator.cli.demo_run import run

    run(scale=scale, reseed=reseed, drain_timeout=drain_timeout, dry_run=dry_run, json=json)


@app.command("seed")
def seed_command(
    scale: Annotated[
        float, typer.Option(help="1.0 reproduces the seed's figures; smaller keeps the shape.")
    ] = 1.0,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives identical data.")
    ] = spec.DEFAULT_SEED,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """(Re)create the scenario's tables in V1 and V2 and load them with COPY.

    V1 gets every row (orphans included); V2 gets what the earlier batch migration left: every V1 row
    through the mapping except the seed's missing records.
    """
    from replicator.demo.load import seed as run_seed

    if dry_run:
        v1 = spec.v1_rows(scale)
        progress_line(
            f"would load {sum(v1.values()):,} V1 rows and {sum(spec.v2_rows(scale).values()):,} V2 rows "
            f"(scale {scale}, seed {seed}); {sum(spec.missing_in_v2(scale).values()):,} missing in V2, "
            f"{sum(spec.orphans(scale).values()):,} orphaned references"
        )
        return
    settings = load_settings()
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1_conn,
        psycopg.connect(settings.v2_admin.conninfo()) as v2_conn,
        table_progress("seed") as progress,
    ):
        report = run_seed(v1_conn, v2_conn, scale=scale, seed=seed, progress=progress)
    if json:
        emit_json(
            {
                "scale": report.scale,
                "seed": report.seed,
                "v1_rows": report.v1_rows,
                "v2_rows": report.v2_rows,
                "missing": report.missing,
                "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
            }
        )
        return
    table(
        "demo seed",
        ["table", "V1 rows", "V2 rows", "missing in V2"],
        [
            (t, f"{n:,}", f"{report.v2_rows.get(t, 0):,}", f"{report.missing.get(t, 0):,}")
            for t, n in sorted(report.v1_rows.items())
        ],
    )
    progress_line(
        f"V1 {sum(report.v1_rows.values()):,} rows, V2 {sum(report.v2_rows.values()):,} rows, "
        f"missing {sum(report.missing.values()):,}; seeded in {report.seconds['total']:.1f}s"
    )
