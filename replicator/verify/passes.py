"""What both repairs (``repair extra``, ``repair missing``) do around their chunks: lock V2 rows by key,
and go through chunks in passes, trying again the chunks a constraint held while a pass gets
something done (a row of a later chunk, or of a table later in the order, may have held them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.catalog import Catalog, read_catalog
from replicator.mapping.model import Mapping
from replicator.pipeline.fk import canonical_key
from replicator.settings import Settings
from replicator.sink.keys import select_keys
from replicator.verify.chunks import Chunk, Key
from replicator.verify.read import Reader, connect_v1, connect_v2
from replicator.verify.run import plan_table

__all__ = ["MAX_PASSES", "in_passes", "lock_keys", "repair_session"]

MAX_PASSES = 5

Attempt = Callable[[str, Chunk, bool], str | None]
"""``(table, chunk, first pass)`` → why the chunk was held back, or None when it is done."""


@contextmanager
def repair_session(settings: Settings, mapping: Mapping) -> Iterator[tuple[Reader, Catalog]]:
    """A chunk reader on V1 and V2 (as their admin roles) and V2's catalog."""
    with connect_v1(settings.v1_admin.conninfo()) as v1, connect_v2(settings.v2_admin.conninfo()) as v2:
        yield Reader(v1, v2, mapping), read_catalog(v2, mapping.target_schema)


def in_passes(
    reader: Reader, tables: Sequence[str], chunk_rows: int, attempt: Attempt, done: Callable[[], int]
) -> list[tuple[str, str]]:
    """Run ``attempt`` over every chunk of ``tables`` in order, then again over the held ones while a
    pass moves ``done`` (the rows written or removed so far); ``(table, why)`` of each chunk still held
    at the end."""
    pending = [(table, chunk) for table in tables for chunk in plan_table(reader, table, chunk_rows)]
    held: list[tuple[str, Chunk, str]] = []
    for n in range(MAX_PASSES):
        before = done()
        held = [(t, c, why) for t, c in pending if (why := attempt(t, c, n == 0)) is not None]
        if not held or done() == before:
            break
        pending = [(t, c) for t, c, _ in held]
    return [(t, why) for t, _, why in held]


def lock_keys(
    v2: psycopg.Connection[Any], catalog: Catalog, table: str, key: Sequence[str], keys: list[Key]
) -> dict[str, Key]:
    """Lock the rows of ``keys`` V2 holds (``FOR UPDATE``); canonical key → key of each."""
    statement, params = select_keys(catalog, table, key, key, keys)
    rows = v2.execute(sql.SQL("{} FOR UPDATE").format(statement), params).fetchall()
    return {canonical_key(row[len(key) :]): tuple(row[len(key) :]) for row in rows}
