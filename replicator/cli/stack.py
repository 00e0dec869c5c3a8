"""``replicator stack up|down|status``: the real local stack, no Docker."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.output import emit_json, progress_line, table
from replicator.stack import leftovers
from replicator.stack.manager import open_stack

app = typer.Typer(
    no_args_is_help=True, help="The local stack: PostgreSQL V1/V2, Kafka (KRaft), Kafka Connect + Debezium."
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")]


@app.command()
def up(dry_run: DryRunOpt = False, json: JsonOpt = False) -> None:
    """Start every component not running yet (idempotent); install what is missing."""
    stack = open_stack()
    if dry_run:
        for s in stack.status():
            progress_line(f"{s.name}: {'already running' if s.running else 'would start'} on port {s.port}")
        return
    timings = stack.up(progress=progress_line)
    if json:
        emit_json(
            {
                "timings_s": {k: round(v, 2) for k, v in timings.items()},
                "components": [s.as_dict() for s in stack.status()],
            }
        )
    else:
        progress_line(f"stack up in {timings['total']:.1f}s; state in {stack.layout.state_dir}")


@app.command()
def down(
    dry_run: DryRunOpt = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete all state: databases, topics, offsets.")
    ] = False,
) -> None:
    """Stop exactly the processes `up` started (workers included). State is kept unless --purge."""
    stack = open_stack()
    if dry_run:
        for s in stack.status():
            if s.running:
                progress_line(f"would stop {s.name} (pid {s.pid})")
        if purge:
            progress_line(f"would delete the state in {stack.layout.state_dir} and {stack.layout.pg_root}")
        return
    stack.down(progress=progress_line)
    if purge:
        stack.purge(progress=progress_line)


@app.command()
def status(json: JsonOpt = False) -> None:
    """Each component with its port, pid and health. Exit code 1 when one is not healthy."""
    statuses = open_stack().status()
    if json:
        emit_json(
            {"components": [s.as_dict() for s in statuses], "healthy": all(s.healthy for s in statuses)}
        )
    else:
        table(
            "stack",
            ["component", "port", "pid", "running", "healthy", "log"],
            [(s.name, s.port, s.pid, s.running, s.healthy, s.log) for s in statuses],
        )
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


@app.command()
def prune(dry_run: DryRunOpt = False, json: JsonOpt = False) -> None:
    """Remove the PostgreSQL data that deleted checkouts left in the shared data directory (as root,
    clusters live outside the state dir). `up` does this too; this lists every data root first."""
    stack = open_stack()
    if not stack.layout.pg_root_shared:
        progress_line(f"nothing to prune: this stack keeps its clusters in {stack.layout.pg_root}")
        return
    if stack.layout.pg_root.exists():
        leftovers.claim(stack.layout)
    roots = leftovers.survey(stack.layout.pg_root.parent)
    freed = 0 if dry_run else leftovers.remove(roots)
    if json:
        emit_json(
            {
                "roots": [
                    {
                        "root": str(r.root),
                        "state_dir": str(r.owner) if r.owner else None,
                        "size_bytes": r.size_bytes,
                        "state": _root_state(r),
                    }
                    for r in roots
                ],
                "freed_bytes": freed,
                "dry_run": dry_run,
            }
        )
        return
    table(
        f"PostgreSQL data roots in {stack.layout.pg_root.parent}",
        ["root", "state dir", "MB", "state"],
        [(r.root.name, r.owner or "?", f"{(r.size_bytes or 0) / 1e6:,.0f}", _root_state(r)) for r in roots],
    )
    gone = [r for r in roots if r.left_over]
    verb = "would remove" if dry_run else "removed"
    progress_line(
        f"{verb} {len(gone)} left-over root(s), {sum(r.size_bytes or 0 for r in gone) / 1e6:,.0f} MB"
    )


def _root_state(root: leftovers.DataRoot) -> str:
    if root.left_over:
        return "left over (state dir deleted)"
    if root.running:
        return "running"
    if root.owner is None:
        return "unclaimed (older than the marker): kept"
    return "in use"
