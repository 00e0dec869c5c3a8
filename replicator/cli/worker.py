"""``replicator worker run|start|stop``: Faust workers applying V1 change topics to V2."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.output import progress_line

app = typer.Typer(no_args_is_help=True, help="Replication workers.")


@app.command()
def run(dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Run one worker in the foreground (scale out by starting more: they share one consumer group).

    With --dry-run: check the settings, the mapping against V1 and V2, and Kafka, say what the worker
    would consume and write, and exit (0; 2 for a bad setting or mapping; 3 when something is unreachable).
    """
    if dry_run:
        from replicator.settings import load_settings
        from replicator.worker.preflight import preflight

        for line in preflight(load_settings()):
            progress_line(line)
        return
    from replicator.worker.app import run_worker

    run_worker()


@app.command()
def start(
    count: Annotated[int, typer.Option(min=1, help="Workers 1..N of the local stack.")] = 1,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
) -> None:
    """Start workers 1..N in the background (logs and pids in the state dir); running ones are kept."""
    from replicator.stack.manager import open_stack

    stack = open_stack()
    for index in range(1, count + 1):
        if dry_run:
            progress_line(f"would start worker-{index} (web port {stack.worker_port(index)})")
            continue
        worker = stack.start_worker(index)
        progress_line(
            f"worker-{index}: pid {worker.pid()}, http://127.0.0.1:{stack.worker_port(index)}/metrics"
        )


@app.command()
def stop(dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Stop every background worker of the local stack (SIGTERM, then SIGKILL after 30 s)."""
    from replicator.stack.manager import open_stack

    for worker in open_stack().workers():
        if dry_run:
            progress_line(f"would stop {worker.name} (pid {worker.pid()})")
            continue
        worker.stop()
        progress_line(f"stopped {worker.name}")
