"""``replicator demo run``: the main job, end to end on the local stack."""

from __future__ import annotations

import time
from typing import Annotated

import psycopg
import typer

from replicator.cli.connector import register_connector
from replicator.cli.output import progress_line, table
from replicator.cli.progress import table_progress
from replicator.connect.client import ConnectClient
from replicator.connect.config import load_connector
from replicator.demo import spec
from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.errors import ReplicatorError
from replicator.kafka_util import end_offsets
from replicator.mapping.catalog import read_catalog
from replicator.mapping.check import Level, check_mapping
from replicator.mapping.model import load_mapping
from replicator.orphans.scan import scan
from replicator.stack.manager import open_stack


def _scenario_present(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass('public.audit_logs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def run(
    scale: Annotated[float, typer.Option(help="Demo scale; 1.0 is the seed's figures.")] = 1.0,
    reseed: Annotated[
        bool, typer.Option("--reseed", help="Reload V1/V2 even if the scenario is there.")
    ] = False,
    capture_timeout: Annotated[float, typer.Option(help="Seconds to wait for Debezium's snapshot.")] = 900,
) -> None:
    """Stack up, seed (first run only), check the mapping, scan orphans, capture V1 into Kafka, summarize."""
    stack = open_stack()
    timings = stack.up(progress=progress_line)
    settings = stack.settings
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    connector = load_connector()
    registered = ConnectClient(settings.connect_url).status(connector.name) is not None
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        if reseed or not _scenario_present(v1):
            if registered and not reseed:
                raise ReplicatorError("the connector exists but V1 has no scenario: run with --reseed")
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
        orphans = scan(v1, mapping)
        v1_rows = _rows(v1, sorted({t.source for t in mapping.tables}))
        v2_rows = _rows(v2, sorted({t.target for t in mapping.tables}))
    started = time.monotonic()
    register_connector(settings.connect_url)
    pattern = rf"{connector.topic_prefix}\.public\..*"
    wanted = sum(v1_rows.values())
    captured = 0
    deadline = time.monotonic() + capture_timeout
    while time.monotonic() < deadline:
        captured = sum(end_offsets(settings.kafka_bootstrap, pattern).values())
        if captured >= wanted:
            break
        progress_line(f"Debezium capture: {captured:,} / {wanted:,} V1 rows in Kafka")
        time.sleep(5)
    progress_line(f"captured {captured:,} change events in {time.monotonic() - started:.1f}s")
    table(
        "V1 → V2 gap (the seed's Current State)",
        ["figure", "value"],
        [
            ("V1 rows", f"{sum(v1_rows.values()):,}"),
            ("V2 rows", f"{sum(v2_rows.values()):,}"),
            ("FK relationships clean in V1", f"{orphans.clean}/{len(orphans.relationships)}"),
            ("orphaned references in V1", f"{orphans.total:,} in {orphans.with_orphans} relationships"),
            ("missing in V2 (seed)", f"{sum(spec.missing_in_v2(scale).values()):,}"),
            ("change events in Kafka", f"{captured:,}"),
            ("stack up", f"{timings['total']:.1f}s"),
        ],
    )


def _rows(conn: psycopg.Connection[tuple[object, ...]], tables: list[str]) -> dict[str, int]:
    from psycopg import sql

    out = {}
    for name in tables:
        row = conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(name))).fetchone()
        out[name] = int(row[0]) if row else 0  # type: ignore[call-overload]
    return out
