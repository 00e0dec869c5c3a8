"""``replicator db bootstrap``: roles, control tables and publication on V1 and V2."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.output import progress_line
from replicator.connect.config import load_connector
from replicator.db.bootstrap import bootstrap
from replicator.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Database preparation.")


@app.command("bootstrap")
def bootstrap_command(dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Create (idempotently) the Debezium role, the V2 writer role, control tables and the publication."""
    settings = load_settings()
    if dry_run:
        progress_line(
            f"would prepare {settings.v1_admin.describe()}: role {settings.v1_replication.user}, "
            f"schema replicator, publication {load_connector().publication}"
        )
        progress_line(
            f"would prepare {settings.v2_admin.describe()}: role {settings.v2_writer.user} (DML only)"
        )
        return
    bootstrap(settings)
    progress_line("bootstrap done")
