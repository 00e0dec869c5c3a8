"""``replicator repair extra`` and ``repair missing``: make V2 equal V1 where replication cannot — remove
the rows V1 does not produce through the mapping (left by the earlier batch migration: replication
never removes a row V1 no longer has a change for), write the ones V2 lacks or holds differently."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.mapping.model import load_mapping
from replicator.settings import load_settings
from replicator.verify.extra import remove_extra
from replicator.verify.missing import repair_missing
from replicator.verify.run import DEFAULT_CHUNK_ROWS

app = typer.Typer(no_args_is_help=True, help="Make V2 equal V1 where replication cannot.")
TablesOpt = Annotated[list[str] | None, typer.Option("--table", help="V2 table (repeatable; default: all).")]
ChunkRowsOpt = Annotated[int, typer.Option("--chunk-rows", min=1, help="Rows per chunk.")]


@app.command("extra")
def extra_command(
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    tables: TablesOpt = None,
    chunk_rows: ChunkRowsOpt = DEFAULT_CHUNK_ROWS,
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


@app.command("missing")
def missing_command(
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    tables: TablesOpt = None,
    chunk_rows: ChunkRowsOpt = DEFAULT_CHUNK_ROWS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find and count them; write nothing.")] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Write V1's version of the rows V2 lacks or holds differently (what `verify` calls missing and
    different), while replication runs: the rows V2 holds are locked, V1 is read again after the lock,
    a locked row is overwritten and an absent one inserted unless a worker wrote it first; each is
    recorded in V2's replicator.repaired_rows. Parents go before their children.

    Exit code 1 when some rows could not be written (V2 refused them: a constraint, a trigger).
    """
    results = repair_missing(
        load_settings(),
        load_mapping(mapping_path),
        tables=tables,
        dry_run=dry_run,
        chunk_rows=chunk_rows,
        progress=(lambda _: None) if json else progress_line,
    )
    found = sum(r.found for r in results)
    written = sum(r.written for r in results)
    rows = [r for r in results if r.found]
    if json:
        emit_json(
            {"dry_run": dry_run, "found": found, "written": written, "tables": [r.as_dict() for r in rows]}
        )
    else:
        if rows:
            table(
                "missing and different V2 rows" + (" (dry run)" if dry_run else ""),
                ["table", "missing", "different", "inserted", "overwritten", "left", "V2 refused"],
                [
                    (
                        r.table,
                        f"{r.missing:,}",
                        f"{r.different:,}",
                        f"{r.inserted:,}",
                        f"{r.overwritten:,}",
                        f"{r.skipped:,}",
                        r.refusals,
                    )
                    for r in rows
                ],
            )
        verb = "would write" if dry_run else "wrote"
        progress_line(
            f"{verb} {found if dry_run else written:,} of {found:,} missing or different V2 rows in "
            f"{len(rows)} table(s)"
            + ("" if dry_run else "; each is in V2's replicator.repaired_rows (`replicator verify` next)")
        )
        if any(not r.done for r in results):
            progress_line(
                "V2 refused some rows: a reference to a parent V2 lacks is written by repairing the"
                " parent's table in the same run (--table); `replicator verify --table T` names the rows"
            )
    if any(not r.done for r in results):
        raise typer.Exit(1)
