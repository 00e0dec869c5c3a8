"""Progress for long commands: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from replicator.cli.output import console, progress_line


class TableProgress(Protocol):
    def __call__(self, table: str, done: int, total: int) -> None: ...


@contextmanager
def table_progress(title: str) -> Iterator[TableProgress]:
    """Yields ``progress(table, done, total)``; one bar per table on a TTY, a line per finished table else."""
    if not sys.stderr.isatty():

        def plain(table: str, done: int, total: int) -> None:
            if done >= total:
                progress_line(f"{title}: {table} {done:,} rows")

        yield plain
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def rich(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bars.add_task(f"{title} {table}", total=total)
            bars.update(tasks[table], completed=done)

        yield rich
