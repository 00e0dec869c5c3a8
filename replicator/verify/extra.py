"""``replicator repair extra``: remove the V2 rows V1 does not produce through the mapping.

Replication only ever changes rows V1 changes, so a row V2 got from outside it — typically from the
earlier batch migration, deleted in V1 since — stays for good, ``verify`` reports it as *extra* and
the cutover check refuses to go on. This finds those rows chunk by chunk, the way ``verify`` compares
(V1 through the mapping, its filters and orphan policies, against V2), and removes them safely while
the workers run:

1. V2's rows of the chunk that V1 does not produce are the candidates.
2. In one V2 transaction: the candidates still in V2 are locked (``FOR UPDATE``); V1 is read again for
   exactly those keys (a new snapshot); a candidate V1 now produces is kept. A worker applying a
   change to a locked row waits for the transaction, and applies it after: so a row V1 inserted after
   the second read comes back as the worker writes it, and one V1 changed before it is not removed.
3. The confirmed rows are copied whole into ``replicator.removed_rows`` and deleted, in one
   statement.

Tables go children first (a removed child never blocks its removed parent); a chunk held by a row
removed later (the same table's next chunk, a reference cycle) is tried again while passes remove
something. A parent still referenced by a V2 row that is not extra (a child whose reference V2 holds
differently from V1), or two extra rows of two tables referencing each other, cannot go: that chunk is
rolled back and named, with the constraint, and the rest goes on. Nothing here prints or logs
row values; keys are shown as ``verify`` shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.catalog import Catalog
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.sink.keys import matching
from replicator.verify.chunks import Chunk, Key
from replicator.verify.passes import lock_keys, repair_tables
from replicator.verify.read import Reader
from replicator.verify.run import DEFAULT_CHUNK_ROWS, resolve_tables

__all__ = ["ExtraRows", "children_first", "remove_extra"]

log = logging.getLogger(__name__)

SAMPLE_SIZE = 20
Progress = Callable[[str], None]


@dataclass(slots=True)
class ExtraRows:
    """One V2 table: what was extra, what a second look kept, what went."""

    table: str
    found: int = 0
    kept: int = 0
    """Extra at the comparison, produced by V1 at the second read (changed meanwhile): not removed."""
    removed: int = 0
    blocked: list[str] = field(default_factory=list)
    """Why chunks could not be removed (a constraint), one line each; their rows stay."""
    sample: list[dict[str, object]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.blocked

    @property
    def changed(self) -> int:
        return self.removed

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "found": self.found,
            "kept": self.kept,
            "removed": self.removed,
            "blocked": list(self.blocked),
            "sample": list(self.sample),
        }


def children_first(parents: dict[str, tuple[str, ...]], tables: Sequence[str]) -> list[str]:
    """``tables`` ordered so that a table comes before every table it references. The tables of a
    reference cycle come together, once no table outside the cycle references them (in the given
    order among themselves). Pure."""
    reach = {t: _reachable(parents, t) for t in tables}
    left = list(tables)
    out: list[str] = []
    while left:
        referencing = {t: [r for r in left if r != t and t in parents.get(r, ())] for t in left}
        ready = [t for t in left if not referencing[t]]
        if not ready:  # only cycles left: a table referenced from inside its own cycle alone
            ready = [next(t for t in left if all(r in reach[t] and t in reach[r] for r in referencing[t]))]
        out += ready
        left = [t for t in left if t not in ready]
    return out


def _reachable(parents: dict[str, tuple[str, ...]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(parents.get(start, ()))
    while todo:
        table = todo.pop()
        if table not in seen:
            seen.add(table)
            todo += parents.get(table, ())
    return seen


def remove_extra(
    settings: Settings,
    mapping: Mapping,
    *,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress = lambda _: None,
    after_compare: Callable[[str, list[Key]], None] | None = None,
) -> list[ExtraRows]:
    """Find (and unless ``dry_run`` remove) the extra rows of ``tables`` (default: every V2 table of the
    mapping). ``after_compare(table, keys)`` is called between a chunk's comparison and its removal
    (a test changes V1 there, as a live V1 may)."""
    names = children_first(mapping.parents(), resolve_tables(mapping, tables))
    results = {table: ExtraRows(table) for table in names}
    repair_tables(
        settings, mapping, results, chunk_rows, partial(_chunk, dry_run=dry_run, after_compare=after_compare)
    )
    for result in results.values():
        if result.blocked:
            log.warning("extra rows of %s not removed: %s", result.table, "; ".join(result.blocked))
        progress(
            f"{result.table}: {result.found:,} extra"
            + ("" if dry_run else f", {result.removed:,} removed")
            + (f", {result.kept:,} kept (V1 changed)" if result.kept else "")
            + (f", blocked: {'; '.join(result.blocked)}" if result.blocked else "")
        )
    return list(results.values())


def _chunk(
    reader: Reader,
    catalog: Catalog,
    chunk: Chunk,
    result: ExtraRows,
    first: bool,
    *,
    dry_run: bool,
    after_compare: Callable[[str, list[Key]], None] | None,
) -> str | None:
    """Find (on the ``first`` pass, count) and remove one chunk's extra rows; why they could not be
    removed, or None."""
    table = result.table
    spec = reader.spec(table)
    expected = reader.read_expected(spec, chunk)
    _actual, display, typed = reader.read_actual(spec, chunk)
    candidates = sorted(ck for ck in typed if ck not in expected.tokens)
    if not candidates:
        return None
    if first:
        result.found += len(candidates)
        result.sample += [display[ck] for ck in candidates[: SAMPLE_SIZE - len(result.sample)]]
    if dry_run:
        return None
    if after_compare is not None:
        after_compare(table, [typed[ck] for ck in candidates])
    v2 = reader.v2
    removed = 0
    try:
        with v2.transaction():
            locked = lock_keys(v2, catalog, table, spec.key, [typed[ck] for ck in candidates])
            again = reader.read_expected(spec, chunk, keys=list(locked.values())) if locked else None
            confirmed = [key for ck, key in locked.items() if again is None or ck not in again.tokens]
            if confirmed:
                removed = _backup_and_delete(v2, catalog, table, spec.key, confirmed)
    except psycopg.errors.ForeignKeyViolation as exc:
        diag = exc.diag
        return (
            f"chunk {chunk.index}: still referenced by V2 rows of {diag.table_name or '?'} "
            f"(constraint {diag.constraint_name or '?'}) that V1 does not reference it with, or that "
            "it references in turn (a cycle): `replicator verify` names them"
        )
    result.kept += len(locked) - len(confirmed)
    result.removed += removed
    return None


def _backup_and_delete(
    v2: psycopg.Connection[Any], catalog: Catalog, table: str, key: Sequence[str], keys: list[Key]
) -> int:
    where, params = matching(catalog, table, key, keys)
    statement = sql.SQL(
        "WITH gone AS (DELETE FROM {schema}.{table} WHERE {where} RETURNING to_jsonb({table}.*) AS row) "
        "INSERT INTO replicator.removed_rows (tbl, row_before) SELECT {name}, row FROM gone"
    ).format(
        schema=sql.Identifier(catalog.schema),
        table=sql.Identifier(table),
        where=where,
        name=sql.Literal(table),
    )
    return v2.execute(statement, params).rowcount
