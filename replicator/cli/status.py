"""``replicator status``: lag, parked rows, dead letters and the accounting, which must add up."""

from __future__ import annotations

from typing import Annotated

import typer

from replicator.cli.output import emit_json, progress_line, table
from replicator.settings import load_settings
from replicator.status import read_status


def status(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Lag, parked rows, dead letters and the accounting; exit code 1 when the accounting does not add up."""
    settings = load_settings()
    state = read_status(settings, settings.topic_prefix)
    if json:
        emit_json(state.as_dict())
    else:
        totals = state.ledger.totals()
        table("accounting (events)", ["outcome", "events"], sorted((k, f"{v:,}") for k, v in totals.items()))
        table("dead letters", ["reason", "events"], sorted(state.as_dict()["dead_letters_by_reason"].items()))
        table("parked", ["table", "rows"], sorted(state.parked.items()))
        behind = [(t, f"{n:,}") for t, n in state.consumer_lag.items() if n]
        table("consumer lag (messages)", ["topic", "behind"], behind or [("all topics", "0")])
        progress_line(
            f"heartbeat applied {state.heartbeat_age_s}s ago; accounting "
            f"{'adds up' if state.balanced else 'DOES NOT add up: ' + str(state.ledger.violation())}"
        )
    if not state.balanced:
        raise typer.Exit(1)
