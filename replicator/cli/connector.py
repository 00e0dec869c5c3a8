"""``replicator connector register|status``."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.output import emit_json, progress_line
from replicator.connect.client import ConnectClient, running
from replicator.connect.config import load_connector
from replicator.connect.register import register_connector
from replicator.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="The Debezium PostgreSQL source connector for V1.")


@app.command()
def register(
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for RUNNING.")] = 60.0,
) -> None:
    """Create or update the connector from connectors/v1-source.json, then wait until it runs."""
    connector = load_connector()
    if dry_run:
        progress_line(f"would PUT {connector.name} with {len(connector.config)} settings")
        return
    register_connector(load_settings().connect_url, wait=wait)
    progress_line(f"{connector.name} RUNNING")


@app.command()
def status(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The connector's and its tasks' state. Exit code 1 unless everything is RUNNING."""
    connector = load_connector()
    state = ConnectClient(load_settings().connect_url).status(connector.name)
    if json:
        emit_json({"name": connector.name, "status": state, "running": running(state)})
    else:
        progress_line(f"{connector.name}: {'RUNNING' if running(state) else state}")
    if not running(state):
        raise typer.Exit(1)
