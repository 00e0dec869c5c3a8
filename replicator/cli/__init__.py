"""The ``replicator`` command. Thin: parse arguments, call the functions that do the work.

Exit codes: 0 success; 1 the command ran and found a problem (unhealthy, mismatch); 2 usage or
configuration error; 3 a component of the stack failed (its log tail is printed).
"""

from __future__ import annotations

import sys

import typer

from replicator.cli import (
    connector,
    cutover,
    db,
    demo,
    dlq,
    load,
    mapping,
    orphans,
    parity,
    report,
    stack,
    status,
    verify,
    worker,
)
from replicator.errors import ConfigError, ReplicatorError, StackError

EXIT_PROBLEM = 1
EXIT_CONFIG = 2
EXIT_STACK = 3

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(stack.app, name="stack")
app.add_typer(connector.app, name="connector")
app.add_typer(worker.app, name="worker")
app.add_typer(db.app, name="db")
app.add_typer(mapping.app, name="mapping")
app.add_typer(demo.app, name="demo")
app.add_typer(orphans.app, name="orphans")
app.add_typer(dlq.app, name="dlq")
app.add_typer(cutover.app, name="cutover")
app.command("status")(status.status)
app.command("parity")(parity.parity)
app.command("report")(report.report)
app.command("verify")(verify.verify)
app.command("load")(load.load)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except StackError as exc:
        print(f"stack error: {exc}", file=sys.stderr)
        sys.exit(EXIT_STACK)
    except ReplicatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_PROBLEM)
