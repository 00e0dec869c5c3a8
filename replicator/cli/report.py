"""``replicator report``: the seed's "Current State vs Target State" table, computed live."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from kafka.errors import KafkaError

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import progress_line
from replicator.cli.parity import CalculationsOpt
from replicator.cutover.checks import Check
from replicator.cutover.facts import readiness
from replicator.errors import ConfigError, ReplicatorError
from replicator.mapping.model import Mapping, load_mapping
from replicator.parity.calculations import DEFAULT_CALCULATIONS, load_calculations
from replicator.report.figures import build_report, collect
from replicator.report.render import FORMATS, render
from replicator.settings import Settings, load_settings


def report(
    fmt: Annotated[str, typer.Option("--format", help="md, json or html.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of stdout.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    calculations_path: CalculationsOpt = DEFAULT_CALCULATIONS,
) -> None:
    """Calculation validation, FK integrity (V1 orphans, V2 constraints), records through the mapping,
    endpoints (last `parity` run), verification per table and the migration score — all from queries.

    Also cutover readiness, as `cutover check` sees it. Exit code 0 whatever the figures say (the report
    informs; `cutover check` gates).
    """
    fmt = "json" if json else fmt
    if fmt not in FORMATS:
        raise ConfigError(
            "--format", source="command line", problem=f"unknown format {fmt!r}", valid=", ".join(FORMATS)
        )
    mapping = load_mapping(mapping_path)
    calcs = load_calculations(calculations_path)
    settings = load_settings()
    with (
        psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1,
        psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2,
    ):
        inputs = collect(v1, v2, mapping, calcs)
    result = build_report(replace(inputs, readiness=_readiness(settings, mapping)))
    text = render(result.as_dict(), fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        progress_line(f"report written to {output} (migration score {result.score.percent:g}%)")


def _readiness(settings: Settings, mapping: Mapping) -> list[Check] | str:
    """`cutover check` with its default limits; the report still renders when Kafka or Connect is down."""
    try:
        return readiness(settings, mapping)
    except (ReplicatorError, KafkaError, psycopg.OperationalError) as exc:
        return type(exc).__name__
