"""The ``replicator`` command. Thin: parse arguments, call the functions that do the work.

Exit codes: 0 success; 1 the command ran and found a problem (unhealthy, mismatch); 2 usage or
configuration error; 3 a component of the stack failed (its log tail is printed).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

import typer

from replicator.errors import ConfigError, ReplicatorError, StackError

EXIT_PROBLEM = 1
EXIT_CONFIG = 2
EXIT_STACK = 3

# name → (module under replicator.cli, attribute, a group of subcommands or one command)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "stack": ("stack", "app", True),
    "connector": ("connector", "app", True),
    "worker": ("worker", "app", True),
    "db": ("db", "app", True),
    "mapping": ("mapping", "app", True),
    "demo": ("demo", "app", True),
    "orphans": ("orphans", "app", True),
    "dlq": ("dlq", "app", True),
    "cutover": ("cutover", "app", True),
    "repair": ("repair", "app", True),
    "status": ("status", "status", False),
    "parity": ("parity", "parity", False),
    "report": ("report", "report", False),
    "verify": ("verify", "verify", False),
    "load": ("load", "load", False),
}


def build(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The command with the subcommands ``names``. Each module is imported only when built in: together
    they import Faust, both Kafka clients, aiohttp and httpx, about half a second of CPU that a worker
    (and every short command) would pay at each start for code it never runs."""
    # No local variables in tracebacks: a frame's locals can hold a connection string with its password.
    app = typer.Typer(
        no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_show_locals=False
    )
    # A callback keeps the app a group even with one command built in: Typer would otherwise run that
    # command as the whole program and read its own name as an extra argument.
    app.callback()(_root)
    for name in names:
        module, attribute, group = COMMANDS[name]
        target = getattr(importlib.import_module(f"replicator.cli.{module}"), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _root() -> None:
    """The ``replicator`` command itself takes no options."""


def _invoked(argv: list[str]) -> list[str]:
    """The subcommand ``argv`` names, alone; every subcommand for help, no argument, or a typo (so the
    usage error lists them)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return [first] if first in COMMANDS else list(COMMANDS)


def unreachable(exc: BaseException) -> str | None:
    """A failure to reach PostgreSQL, Kafka or Kafka Connect, said in one line (what and where, which
    the drivers' messages name without credentials); None for anything else. Only the clients a
    command imported are asked: nothing is imported here."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        return f"PostgreSQL unreachable: {_first_line(exc)}"
    kafka_errors = sys.modules.get("kafka.errors")
    kafka_down = ("NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError")  # those this version has
    down = tuple(c for n in kafka_down if (c := getattr(kafka_errors, n, None)) is not None)
    if down and isinstance(exc, down):
        return f"Kafka unreachable: {_first_line(exc)}"
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TransportError):
        try:
            url = exc.request.url  # set on errors raised by a request; absent on a bare one
            where = f" at {url.scheme}://{url.host}:{url.port}"
        except RuntimeError:
            where = ""
        return f"Kafka Connect unreachable{where}: {type(exc).__name__}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main() -> None:
    try:
        build(_invoked(sys.argv[1:]))()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except StackError as exc:
        print(f"stack error: {exc}", file=sys.stderr)
        sys.exit(EXIT_STACK)
    except ReplicatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_PROBLEM)
    except Exception as exc:
        reason = unreachable(exc)
        if reason is None:
            raise
        print(f"stack error: {reason} (is the stack up? `replicator stack status`)", file=sys.stderr)
        sys.exit(EXIT_STACK)
