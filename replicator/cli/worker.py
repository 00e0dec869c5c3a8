"""``replicator worker run``: a Faust worker applying V1 change topics to V2."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Replication workers.")


@app.command()
def run() -> None:
    """Run one worker in the foreground (scale out by starting more: one consumer group)."""
    from replicator.worker.app import run_worker

    run_worker()
