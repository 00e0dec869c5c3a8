"""``replicator mapping check``: the mapping against the live V1 and V2 catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer

from replicator.cli.output import emit_json, progress_line
from replicator.mapping.catalog import read_catalog
from replicator.mapping.check import Level, check_mapping, format_fk_graph
from replicator.mapping.model import load_mapping
from replicator.settings import load_settings

DEFAULT_MAPPING = Path(__file__).resolve().parents[2] / "schemas" / "mapping.yaml"

app = typer.Typer(no_args_is_help=True, help="The V1→V2 mapping.")

MappingOpt = Annotated[
    Path, typer.Option("--mapping", help="Mapping file.", envvar="REPLICATOR_MAPPING_PATH")
]


@app.command()
def check(
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    json: Annotated[bool, typer.Option("--json")] = False,
    graph: Annotated[bool, typer.Option("--graph/--no-graph", help="Print the FK graph.")] = True,
) -> None:
    """Validate the mapping against V1 and V2: tables, columns, types, NOT NULL feeds, FK graph.

    Exit code 1 when an error is found (warnings alone pass).
    """
    mapping = load_mapping(mapping_path)
    settings = load_settings()
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        findings = check_mapping(
            mapping, read_catalog(v1, mapping.source_schema), read_catalog(v2, mapping.target_schema)
        )
    errors = [f for f in findings if f.level is Level.ERROR]
    if json:
        emit_json(
            {
                "mapping": str(mapping_path),
                "ok": not errors,
                "findings": [
                    {"level": f.level.value, "location": f.location, "message": f.message, "valid": f.valid}
                    for f in findings
                ],
                "fk_cycles": [str(c) for c in mapping.fk_cycles()],
            }
        )
    else:
        if graph:
            typer.echo(format_fk_graph(mapping))
        for finding in findings:
            typer.echo(str(finding))
        progress_line(
            f"{len(mapping.tables)} table mappings, {len(mapping.relationships)} relationships: "
            f"{len(errors)} errors, {len(findings) - len(errors)} warnings"
        )
    if errors:
        raise typer.Exit(1)
