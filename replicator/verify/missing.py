"""``replicator repair missing``: write into V2 the rows V1 produces through the mapping that V2 lacks or
holds differently (what ``verify`` calls *missing* and *different*), while replication runs.

Replication writes a row only when V1 changes it. A row V2 lost some other way — left out by the
earlier batch migration, changed in V2 by hand, restored from an old backup, its change dead-lettered
and never replayed — stays wrong until V1 happens to change it again: ``verify`` reports it and the
cutover check refuses to go on. This finds those rows chunk by chunk, the way ``verify`` compares (V1
through the mapping, its filters and orphan policies, against V2), and writes V1's version of them:

1. The chunk's rows V1 produces whose V2 row is absent or differs are the candidates.
2. In one V2 transaction: the candidates V2 holds are locked (``FOR UPDATE``); V1 is read again for
   exactly those keys, in a snapshot taken after the lock; then
   * a locked row is overwritten with V1's version (the columns the mapping writes);
   * a row V2 lacks is inserted only if it is still absent (``ON CONFLICT DO NOTHING``);
   * a candidate V1 no longer produces is left alone (its delete is on its way to V2; ``verify`` and
     ``repair extra`` deal with what stays).
   Each written row goes into ``replicator.repaired_rows`` (as it was and as it is now).

Why this never moves a row backwards while the workers run: a worker's write to a locked row waits
for the repair's commit and applies after it. Whatever a worker had applied before the lock was
committed in V1 earlier, so the read after the lock includes it: the version written is at least as
new as the one it replaces. Changes V1 committed before that read but not yet applied (in Kafka, or
parked) apply afterwards in their order — the repair stores no row version, so the guard lets them
through as before — and the row ends where V1 is. A row V2 lacks has nothing to lock: if a worker
inserts it between the read and the write, the insert here does nothing and the stream carries the row
from there.

Tables go parents first, so a missing parent is written before its missing children. A chunk V2
refuses (a reference to a parent V2 lacks and this run does not write, a check constraint, a trigger)
is rolled back and named with its SQLSTATE and constraint; the rest goes on, and held chunks are tried
again while a pass writes something. Nothing here prints or logs row values; keys are shown as
``verify`` shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.catalog import Catalog
from replicator.mapping.model import Mapping as MappingModel
from replicator.settings import Settings
from replicator.sink.statements import create_stage, stage_name, truncate_stage
from replicator.sink.store import copy_into
from replicator.verify.chunks import Chunk, Key
from replicator.verify.expected import TableSpec
from replicator.verify.extra import children_first
from replicator.verify.passes import lock_keys, repair_tables
from replicator.verify.read import Reader
from replicator.verify.run import DEFAULT_CHUNK_ROWS, resolve_tables
from replicator.worker.dberrors import ROW_REJECTIONS

__all__ = ["MissingRows", "repair_missing"]

log = logging.getLogger(__name__)

SAMPLE_SIZE = 20
Progress = Callable[[str], None]
Hook = Callable[[str, list[Key]], None]


@dataclass(slots=True)
class MissingRows:
    """One V2 table: what V2 lacked or held differently, and what was written."""

    table: str
    missing: int = 0
    different: int = 0
    inserted: int = 0
    overwritten: int = 0
    skipped: int = 0
    """Candidates left alone: V1 no longer produced them at the second read, or a worker inserted the
    row first."""
    blocked: list[str] = field(default_factory=list)
    """Why chunks could not be written (V2 refused them), one line each; their rows stay as they were."""
    sample: list[dict[str, object]] = field(default_factory=list)

    @property
    def found(self) -> int:
        return self.missing + self.different

    @property
    def written(self) -> int:
        return self.inserted + self.overwritten

    @property
    def changed(self) -> int:
        return self.written

    @property
    def done(self) -> bool:
        return not self.blocked

    @property
    def refusals(self) -> str:
        """The distinct refusals of the blocked chunks (constraint, table, SQLSTATE)."""
        return "; ".join(sorted({why.partition(": ")[2] for why in self.blocked}))

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "missing": self.missing,
            "different": self.different,
            "inserted": self.inserted,
            "overwritten": self.overwritten,
            "skipped": self.skipped,
            "blocked": list(self.blocked),
            "sample": list(self.sample),
        }


def repair_missing(
    settings: Settings,
    mapping: MappingModel,
    *,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress = lambda _: None,
    after_compare: Hook | None = None,
    after_read: Hook | None = None,
) -> list[MissingRows]:
    """Find (and unless ``dry_run`` write) the missing and different rows of ``tables`` (default: every
    V2 table of the mapping). ``after_compare(table, keys)`` runs between a chunk's comparison and the
    lock, ``after_read(table, keys)`` between the second read of V1 and the writes (a test changes V1
    there, as a live V1 may)."""
    names = children_first(mapping.parents(), resolve_tables(mapping, tables))[::-1]
    results = {table: MissingRows(table) for table in names}
    hooks = (after_compare, after_read)
    repair_tables(settings, mapping, results, chunk_rows, partial(_chunk, dry_run=dry_run, hooks=hooks))
    for r in results.values():
        if r.blocked:
            log.warning("rows of %s not repaired, V2 refused them: %s", r.table, r.refusals)
        progress(
            f"{r.table}: {r.missing:,} missing, {r.different:,} different"
            + ("" if dry_run else f"; {r.inserted:,} inserted, {r.overwritten:,} overwritten")
            + (f", {r.skipped:,} left (V1 changed)" if r.skipped else "")
            + (f", V2 refused {len(r.blocked)} chunk(s): {r.refusals}" if r.blocked else "")
        )
    return list(results.values())


def _chunk(
    reader: Reader,
    catalog: Catalog,
    chunk: Chunk,
    result: MissingRows,
    first: bool,
    *,
    dry_run: bool,
    hooks: tuple[Hook | None, Hook | None],
) -> str | None:
    """Find (on the ``first`` pass, count) and write one chunk's wrong rows; why V2 refused them, or
    None."""
    spec = reader.spec(result.table)
    expected = reader.read_expected(spec, chunk)
    actual, _, _ = reader.read_actual(spec, chunk)
    wrong = sorted(ck for ck, t in expected.tokens.items() if actual.get(ck) != t)
    if not wrong:
        return None
    if first:
        result.missing += sum(ck not in actual for ck in wrong)
        result.different += sum(ck in actual for ck in wrong)
        result.sample += [expected.display[ck] for ck in wrong[: SAMPLE_SIZE - len(result.sample)]]
    if dry_run:
        return None
    keys = [expected.keys[ck] for ck in wrong]
    after_compare, after_read = hooks
    if after_compare is not None:
        after_compare(result.table, keys)
    v2 = reader.v2
    try:
        with v2.transaction():
            held = lock_keys(v2, catalog, result.table, spec.key, keys)
            again = reader.read_expected(spec, chunk, keys=keys).rows
            if after_read is not None:
                after_read(result.table, keys)
            present = {ck: again[ck] for ck in wrong if ck in again and ck in held}
            absent = {ck: again[ck] for ck in wrong if ck in again and ck not in held}
            overwritten = _write(v2, catalog, spec, present, overwrite=True)
            inserted = _write(v2, catalog, spec, absent, overwrite=False)
    except ROW_REJECTIONS as exc:
        diag = exc.diag
        return (
            f"chunk {chunk.index}: constraint {diag.constraint_name or '-'} on "
            f"{diag.table_name or result.table} (sqlstate {exc.sqlstate})"
        )
    result.overwritten += overwritten
    result.inserted += inserted
    result.skipped += len(wrong) - overwritten - inserted
    return None


def _write(
    v2: psycopg.Connection[Any],
    catalog: Catalog,
    spec: TableSpec,
    rows: Mapping[str, dict[str, object]],
    *,
    overwrite: bool,
) -> int:
    """Write ``rows`` (overwrite the locked ones, or insert those still absent), one statement per
    column set, each recorded in ``replicator.repaired_rows``; how many were written."""
    by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for row in rows.values():
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    written = 0
    for columns, group in by_columns.items():
        if overwrite and set(columns) <= set(spec.key):  # only the key came: nothing can differ
            continue
        v2.execute(create_stage(catalog.schema, spec.table))
        v2.execute(truncate_stage(spec.table))
        copy_into(v2, catalog, spec.table, columns, ([row[c] for c in columns] for row in group))
        statement = _overwrite_sql if overwrite else _insert_sql
        written += v2.execute(statement(catalog.schema, spec, columns), [spec.table]).rowcount
    return written


def _overwrite_sql(schema: str, spec: TableSpec, columns: tuple[str, ...]) -> sql.Composed:
    non_key = [c for c in columns if c not in spec.key]
    return sql.SQL(
        "WITH before AS (SELECT {keys}, to_jsonb(t.*) AS row_before FROM {table} t WHERE ({keys}) IN "
        "(SELECT {keys} FROM {stage})), "
        "written AS (UPDATE {table} t SET {sets} FROM {stage} s WHERE {join} "
        "RETURNING {t_keys}, to_jsonb(t.*) AS row_after) "
        "INSERT INTO replicator.repaired_rows (tbl, kind, row_before, row_after) "
        "SELECT %s, 'different', b.row_before, w.row_after FROM written w JOIN before b USING ({keys})"
    ).format(
        keys=sql.SQL(", ").join(map(sql.Identifier, spec.key)),
        t_keys=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k in spec.key),
        table=sql.Identifier(schema, spec.table),
        stage=sql.Identifier(stage_name(spec.table)),
        sets=sql.SQL(", ").join(sql.SQL("{0} = s.{0}").format(sql.Identifier(c)) for c in non_key),
        join=sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in spec.key),
    )


def _insert_sql(schema: str, spec: TableSpec, columns: tuple[str, ...]) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL(
        "WITH written AS (INSERT INTO {table} AS t ({names}) SELECT {names} FROM {stage} "
        "ON CONFLICT ({keys}) DO NOTHING RETURNING to_jsonb(t.*) AS row_after) "
        "INSERT INTO replicator.repaired_rows (tbl, kind, row_after) SELECT %s, 'missing', row_after "
        "FROM written"
    ).format(
        table=sql.Identifier(schema, spec.table),
        names=names,
        stage=sql.Identifier(stage_name(spec.table)),
        keys=sql.SQL(", ").join(map(sql.Identifier, spec.key)),
    )
