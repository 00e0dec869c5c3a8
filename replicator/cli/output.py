"""Output helpers shared by commands: JSON for machines, plain lines or rich tables for people."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import orjson
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def emit_json(payload: object) -> None:
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")


def progress_line(message: str) -> None:
    console.print(f"[dim]·[/dim] {message}", highlight=False)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    out = Table(title=title)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    Console().print(out)
