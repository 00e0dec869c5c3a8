"""``replicator orphans scan``: orphaned references in V1, per relationship of the mapping."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.mapping.model import load_mapping
from replicator.orphans.scan import scan
from replicator.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Orphaned references in V1.")


@app.command("scan")
def scan_command(
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Count, per relationship, V1 child rows whose parent does not exist in V1 (with sample keys).

    Exit code 1 when any orphan exists.
    """
    mapping = load_mapping(mapping_path)
    with psycopg.connect(load_settings().v1_admin.conninfo()) as conn:
        result = scan(conn, mapping)
    if json:
        emit_json(
            {
                "relationships": [r.as_dict() for r in result.relationships],
                "total_orphans": result.total,
                "relationships_with_orphans": result.with_orphans,
                "relationships_clean": result.clean,
                "unscannable": [
                    {"relationship": u.relationship, "reason": u.reason} for u in result.unscannable
                ],
            }
        )
    else:
        table(
            "orphaned references in V1",
            ["relationship", "child", "columns", "parent", "policy", "orphans"],
            [
                (
                    r.relationship,
                    r.child,
                    ",".join(r.columns),
                    "+".join(r.parents),
                    r.policy,
                    f"{r.orphans:,}",
                )
                for r in result.relationships
            ],
        )
        for u in result.unscannable:
            progress_line(f"not scannable: {u.relationship}: {u.reason}")
        progress_line(
            f"{result.total:,} orphaned references in {result.with_orphans} of "
            f"{len(result.relationships)} relationships ({result.clean} clean)"
        )
    if result.total:
        raise typer.Exit(1)
