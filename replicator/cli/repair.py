"""``replicator repair extra``: remove the V2 rows V1 does not produce through the mapping (left by the
earlier batch migration: replication never removes a row V1 no longer has a change for)."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.mapping.model import load_mapping
from replicator.settings import load_settings
from replicator.verify.extra import remove_extra
from replicator.verify.run import DEFAULT_CHUNK_ROWS

app = typer.Typer(no_args_is_help=True, help="Make V2 equal V1 where replication cannot.")


@app.command("extra")
def extra_command(
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    tables: Annotated[
        list[str] | None, typer.Option("--table", help="V2 table (repeatable; default: all).")
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per chunk.")
    ] = DEFAULT_CHUNK_ROWS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find and count them; remove nothing.")] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Remove V2 rows that V1 does not produce through the mapping (what `verify` calls extra), while
    replication runs: each is locked, checked against V1 once more, copied whole into V2's
    replicator.removed_rows, then deleted. Children go before their parents.

    Exit code 1 when some rows could not be removed (a V2 row that is not extra still references them).
    """
    results = remove_extra(
        load_settings(),
        load_mapping(mapping_path),
        tables=tables,
        dry_run=dry_run,
        chunk_rows=chunk_rows,
        progress=(lambda _: None) if json else progress_line,
    )
    found = sum(r.found for r in results)
    removed = sum(r.removed for r in results)
    if json:
        emit_json(
            {
                "dry_run": dry_run,
                "found": found,
                "removed": removed,
                "tables": [r.as_dict() for r in results if r.found],
            }
        )
    else:
        rows = [r for r in results if r.found]
        if rows:
            table(
                "extra V2 rows" + (" (dry run)" if dry_run else ""),
                ["table", "found", "kept (V1 changed)", "removed", "blocked"],
                [
                    (r.table, f"{r.found:,}", f"{r.kept:,}", f"{r.removed:,}", "; ".join(r.blocked))
                    for r in rows
                ],
            )
        verb = "would remove" if dry_run else "removed"
        progress_line(
            f"{verb} {found if dry_run else removed:,} of {found:,} extra V2 rows in {len(rows)} table(s)"
            + ("" if dry_run else "; each is in V2's replicator.removed_rows (`replicator verify` next)")
        )
    if any(not r.done for r in results):
        raise typer.Exit(1)
