"""What both repairs (``repair extra``, ``repair missing``) do around their chunks: lock V2 rows by key,
and go through chunks in passes, trying again the chunks a constraint held while a pass changes rows
(a row of a later chunk, or of a table later in the order, may have held them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

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

__all__ = ["MAX_PASSES", "Repaired", "lock_keys", "repair_tables"]

MAX_PASSES = 5


class Repaired(Protocol):
    """One V2 table's result: why chunks were held back (filled here), and the rows changed so far."""

    blocked: list[str]

    @property
    def changed(self) -> int: ...


R = TypeVar("R", bound=Repaired)
RepairChunk = Callable[[Reader, Catalog, Chunk, R, bool], str | None]
"""``(reader, V2 catalog, chunk, its table's result, first pass)`` → why the chunk was held back, or None
when it is done."""


def repair_tables(
    settings: Settings, mapping: Mapping, results: dict[str, R], chunk_rows: int, repair_chunk: RepairChunk[R]
) -> None:
    """Run ``repair_chunk`` over every chunk of the tables of ``results`` (in their order), then again
    over the held ones while a pass changes rows; each chunk still held at the end is named in its
    table's ``blocked``. V1 and V2 are read as their admin roles."""
    with connect_v1(settings.v1_admin.conninfo()) as v1, connect_v2(settings.v2_admin.conninfo()) as v2:
        reader, catalog = Reader(v1, v2, mapping), read_catalog(v2, mapping.target_schema)
        pending = [(t, c) for t in results for c in plan_table(reader, t, chunk_rows)]
        held: list[tuple[str, Chunk, str]] = []
        for n in range(MAX_PASSES):
            before = sum(r.changed for r in results.values())
            held = [
                (t, c, why)
                for t, c in pending
                if (why := repair_chunk(reader, catalog, c, results[t], n == 0)) is not None
            ]
            if not held or sum(r.changed for r in results.values()) == before:
                break
            pending = [(t, c) for t, c, _ in held]
    for table, _, why in held:
        results[table].blocked.append(why)


def lock_keys(
    v2: psycopg.Connection[Any], catalog: Catalog, table: str, key: Sequence[str], keys: list[Key]
) -> dict[str, Key]:
    """Lock the rows of ``keys`` V2 holds (``FOR UPDATE``); canonical key → key of each."""
    statement, params = select_keys(catalog, table, key, key, keys)
    rows = v2.execute(sql.SQL("{} FOR UPDATE").format(statement), params).fetchall()
    return {canonical_key(row[len(key) :]): tuple(row[len(key) :]) for row in rows}
