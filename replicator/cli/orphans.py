"""``replicator orphans scan|fix``: orphaned references in V1, per relationship of the mapping, and their
cleanup by each relationship's policy."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.errors import check_choices
from replicator.mapping.model import load_mapping
from replicator.orphans.fix import fix_orphans
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


@app.command("fix")
def fix_command(
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    relationship: Annotated[
        list[str] | None, typer.Option("--relationship", help="Only this relationship (repeatable).")
    ] = None,
    delete_dead_letter_orphans: Annotated[
        bool,
        typer.Option(
            "--delete-dead-letter-orphans",
            help="Also delete the orphans of dead_letter relationships (else left for their parents).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; change nothing.")
    ] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Clean V1's orphaned references by each relationship's policy: set_null clears the reference,
    drop deletes the row; dead_letter relationships are left alone. Every changed row is first copied
    into V1's replicator.orphan_backup; the changes replicate to V2.

    Exit code 1 when a relationship could not be fixed (e.g. a NOT NULL reference column in V1).
    """
    mapping = load_mapping(mapping_path)
    check_choices("--relationship", relationship or (), (r.name for r in mapping.relationships))
    with psycopg.connect(load_settings().v1_admin.conninfo(), autocommit=True) as conn:
        report = fix_orphans(
            conn,
            mapping,
            relationships=frozenset(relationship or ()),
            delete_dead_letter_orphans=delete_dead_letter_orphans,
            dry_run=dry_run,
        )
    if json:
        emit_json(
            {
                "dry_run": dry_run,
                "passes": report.passes,
                "changed": report.changed,
                "left_for_parents": report.skipped,
                "fixes": [f.as_dict() for f in report.fixes],
            }
        )
    else:
        table(
            "orphans fixed in V1" if not dry_run else "orphans that would be fixed in V1",
            ["relationship", "table", "columns", "action", "rows", "error"],
            [
                (f.relationship, f.table, ",".join(f.columns), f.action, f"{f.rows:,}", f.error or "")
                for f in report.fixes
            ],
        )
        verb = "would change" if dry_run else "changed"
        progress_line(
            f"{verb} {report.changed:,} V1 rows in {report.passes} pass(es); "
            f"{report.skipped:,} dead_letter orphans left for their parents"
        )
    if report.failed:
        raise typer.Exit(1)
