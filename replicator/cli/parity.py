"""``replicator parity``: dashboard calculations and HTTP endpoints, V1 against V2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from replicator.cli.output import emit_json, progress_line, table
from replicator.cli.progress import table_progress
from replicator.errors import ConfigError
from replicator.parity import store
from replicator.parity.calculations import DEFAULT_CALCULATIONS, load_calculations, run_calculations
from replicator.parity.endpoints import Outcome, load_inventory, run_endpoints
from replicator.settings import load_settings

CalculationsOpt = Annotated[
    Path, typer.Option("--calculations", help="Calculations file (V1 and V2 SQL per dashboard calculation).")
]


def parity(  # noqa: PLR0917 - typer options are parameters
    calculations_path: CalculationsOpt = DEFAULT_CALCULATIONS,
    endpoints_path: Annotated[
        Path | None,
        typer.Option("--endpoints", help="Endpoint inventory (JSON); needs --v1-url and --v2-url."),
    ] = None,
    v1_url: Annotated[str | None, typer.Option("--v1-url", help="Base URL of the V1 API.")] = None,
    v2_url: Annotated[str | None, typer.Option("--v2-url", help="Base URL of the V2 API.")] = None,
    skip_calculations: Annotated[
        bool, typer.Option("--skip-calculations", help="Only the endpoints.")
    ] = False,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Keep the results in V2 for `replicator report`.")
    ] = True,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run every calculation pair on V1 and V2 and compare exactly; with an inventory, request every
    endpoint on both APIs and compare the JSON bodies outside the declared ignore-paths.

    Failures name the first differing row and its columns, or the differing JSON paths — never values.
    Exit code 1 when a calculation fails or an endpoint fails, is missing on V2 or errors.
    """
    if endpoints_path is not None and not (v1_url and v2_url):
        raise ConfigError(
            "--v1-url/--v2-url",
            source="command line",
            problem="--endpoints needs both base URLs",
            valid="--v1-url http://v1-host --v2-url http://v2-host",
        )
    calcs = None if skip_calculations else load_calculations(calculations_path)
    inventory = None if endpoints_path is None else load_inventory(endpoints_path)
    settings = load_settings()
    payload: dict[str, Any] = {}
    failed = False
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        if calcs is not None:
            with (
                psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1,
                table_progress("parity") as progress,
            ):
                results = run_calculations(calcs, v1, v2, progress)
            rows = [r.as_dict() for r in results]
            payload["calculations"] = rows
            payload["calculations_passed"] = sum(r.passed for r in results)
            payload["calculations_total"] = len(results)
            failed |= not all(r.passed for r in results)
            if save:
                store.save(v2, "calculation", rows)
        if inventory is not None:
            assert v1_url is not None
            assert v2_url is not None
            with table_progress("parity") as progress:
                outcomes = run_endpoints(inventory, v1_url, v2_url, progress)
            rows = [o.as_dict() for o in outcomes]
            payload["endpoints"] = rows
            payload["endpoints_passed"] = sum(o.outcome is Outcome.PASS for o in outcomes)
            payload["endpoints_total"] = len(outcomes)
            failed |= any(o.outcome is not Outcome.PASS for o in outcomes)
            if save:
                store.save(v2, "endpoint", rows)
    payload["passed"] = not failed
    if json:
        emit_json(payload)
    else:
        if "calculations" in payload:
            table(
                "calculation parity (V1 vs V2)",
                ["calculation", "status", "rows V1/V2", "detail"],
                [
                    (r["name"], r["status"], f"{r.get('rows_v1', '?')}/{r.get('rows_v2', '?')}", r["detail"])
                    for r in payload["calculations"]
                ],
            )
            progress_line(
                f"calculations: {payload['calculations_passed']}/{payload['calculations_total']} pass"
            )
        if "endpoints" in payload:
            table(
                "endpoint parity (V1 vs V2)",
                ["endpoint", "method", "path", "status", "detail"],
                [(r["name"], r["method"], r["path"], r["status"], r["detail"]) for r in payload["endpoints"]],
            )
            progress_line(f"endpoints: {payload['endpoints_passed']}/{payload['endpoints_total']} pass")
    if failed:
        raise typer.Exit(1)
