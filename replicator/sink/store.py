"""V2 reads and writes for one batch, inside one transaction. The decisions are the planner's.

Row ids and positions travel as one text per column, split by PostgreSQL (``replicator.sink.lists``):
psycopg's text array dumper escapes element by element with a regex, which the profile of the replay
benchmark (``bench/apply.py``) once showed as the largest single CPU cost, and its binary one still
walks every element in Python. The few rows of the ledger and progress travel as binary arrays (``%b``).

Reads: parked items of the touched rows, which parents exist, row versions, children of deleted rows.
Writes: data (set-based, one statement per run: upserts are COPYed into a per-table temp staging
table and written with one INSERT … ON CONFLICT; deletes are one DELETE by key arrays, see
``replicator.sink.keys``), row versions, parked items, the ledger and progress.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.catalog import Catalog
from replicator.mapping.engine import Delete, Upsert
from replicator.pipeline.accounting import Ledger
from replicator.pipeline.codec import decode_headers, decode_item, encode_headers, encode_item
from replicator.pipeline.envelope import Position
from replicator.pipeline.fk import FkGraph, RowId, canonical_key, row_id
from replicator.pipeline.infinity import TEMPORAL_TYPES, array_literal, mixes_infinity
from replicator.pipeline.planner import (
    Action,
    LookupRequest,
    Lookups,
    Parked,
    RowVersion,
    Step,
    parked_id,
    parked_writes,
)
from replicator.pipeline.runs import write_runs
from replicator.sink.keys import delete_keys, select_keys
from replicator.sink.lists import bools, ints, statement, texts
from replicator.sink.statements import (
    copy_into_stage,
    create_stage,
    stage_name,
    take_absent_parents,
    truncate_stage,
    upsert_from_stage,
)

Conn = psycopg.Connection[tuple[Any, ...]]
Refill = Callable[[str, list[tuple[object, ...]]], dict[str, dict[str, object]]]
"""``refill(v2_table, keys)`` → canonical key → the row's full V2 values, read from V1 now."""


def rid_text(rid: RowId) -> str:
    return f"{rid[0]} {rid[1]}"


def rid_parse(text: str) -> RowId:
    table, key = text.split(" ", 1)
    return (table, key)


def _split(rows: Iterable[str]) -> list[str]:
    """Row ids → [tables, keys], sorted: the parameters of the ``unnest`` lookups."""
    return _ids(sorted(rid_parse(r) for r in rows))


def _ids(rows: Sequence[tuple[Any, ...]]) -> list[str]:
    """Row ids → the parameters of ``unnest(TEXTS, TEXTS)``: tables, keys."""
    return [texts([r[0] for r in rows]), texts([r[1] for r in rows])]


def _positioned(rows: Sequence[tuple[str, str, int, int, bool]]) -> list[str]:
    """(table, key, commit LSN, LSN, flag) rows → the parameters of ``unnest(TEXTS, TEXTS, INTS, INTS,
    BOOLS)``."""
    return [
        *_ids(rows),
        ints([r[2] for r in rows]),
        ints([r[3] for r in rows]),
        bools([r[4] for r in rows]),
    ]


class LaneMismatchError(Exception):
    """``V2Store.upsert_present`` could not account for every staged row: its writes must be undone."""


@dataclass(frozen=True, slots=True)
class Original:
    """The Kafka record a change came from (for the dead-letter topic)."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class LoadedParked:
    items: list[Parked] = field(default_factory=list)
    originals: dict[tuple[str, int, int], Original] = field(default_factory=dict)


NOTHING_PARKED_SQL = "SELECT NOT EXISTS (SELECT FROM replicator.parked)"
LANE_OPEN_SQL = statement("""
SELECT NOT EXISTS (SELECT FROM replicator.parked)
   AND NOT EXISTS (SELECT FROM replicator.row_version WHERE tbl = ANY(<texts>))
""")
WAITERS_SQL = statement("""
SELECT DISTINCT tbl || ' ' || pk FROM replicator.parked_wait WHERE awaited = ANY(<texts>)
""")
EXPIRED_SQL = statement("""
SELECT DISTINCT tbl || ' ' || pk
FROM (SELECT tbl, pk FROM replicator.parked
      WHERE deadline_us <= %s AND tbl = ANY(<texts>)
      ORDER BY deadline_us LIMIT %s FOR UPDATE SKIP LOCKED) due
""")
AWAITED_PARKED_SQL = statement("""
SELECT DISTINCT p.tbl || ' ' || p.pk FROM replicator.parked p
WHERE (p.tbl, p.pk) IN (
    SELECT split_part(w, ' ', 1), substr(w, strpos(w, ' ') + 1)
    FROM replicator.parked q, unnest(q.waiting_for) AS w
    WHERE (q.tbl, q.pk) IN (SELECT * FROM unnest(<texts>, <texts>)))
""")
CLOSURE_MAX_ROWS = 5000
"""Bound on the rows one batch loads from the parked set (see ``V2Store._closure``)."""
PARKED_ROWS_SQL = statement("""
SELECT tbl, pk, commit_lsn, lsn, fixup, since_us, deadline_us, waiting_for, item, orig_key, orig_value,
    orig_headers
FROM replicator.parked
WHERE (tbl, pk) IN (SELECT * FROM unnest(<texts>, <texts>))
ORDER BY tbl, pk, commit_lsn, lsn, fixup
FOR UPDATE{skip_locked}
""")
ITEM_COUNTS_SQL = statement("""
SELECT tbl || ' ' || pk, count(*) FROM replicator.parked
WHERE (tbl, pk) IN (SELECT * FROM unnest(<texts>, <texts>))
GROUP BY 1
""")
VERSIONS_SQL = statement("""
SELECT tbl, pk, commit_lsn, lsn, deleted FROM replicator.row_version
WHERE (tbl, pk) IN (SELECT * FROM unnest(<texts>, <texts>))
""")
WRITE_VERSIONS_SQL = statement("""
INSERT INTO replicator.row_version (tbl, pk, commit_lsn, lsn, deleted)
SELECT * FROM unnest(<texts>, <texts>, <ints>, <ints>, <bools>)
ON CONFLICT (tbl, pk) DO UPDATE
SET commit_lsn = EXCLUDED.commit_lsn, lsn = EXCLUDED.lsn, deleted = EXCLUDED.deleted
WHERE (row_version.commit_lsn, row_version.lsn) < (EXCLUDED.commit_lsn, EXCLUDED.lsn)
""")
UNPARK_SQL = statement("""
DELETE FROM replicator.parked
WHERE (tbl, pk, commit_lsn, lsn, fixup)
    IN (SELECT * FROM unnest(<texts>, <texts>, <ints>, <ints>, <bools>))
""")
PARK_SQL = """
INSERT INTO replicator.parked
    (tbl, pk, commit_lsn, lsn, fixup, since_us, deadline_us, waiting_for, item, orig_key, orig_value,
     orig_headers)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s::jsonb)
ON CONFLICT (tbl, pk, commit_lsn, lsn, fixup) DO UPDATE
SET deadline_us = EXCLUDED.deadline_us, waiting_for = EXCLUDED.waiting_for
"""
# The books and the progress of a batch are one statement each (their keys are unique within a batch):
# one row per statement was a dozen statements per batch.
LEDGER_SQL = """
INSERT INTO replicator.ledger (tbl, op, outcome, reason, events)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::int8[])
ON CONFLICT (tbl, op, outcome, reason) DO UPDATE SET events = ledger.events + EXCLUDED.events
"""
PROGRESS_SQL = """
INSERT INTO replicator.progress (name, commit_ts_us, commit_lsn)
SELECT * FROM unnest(%b::text[], %b::int8[], %b::int8[])
ON CONFLICT (name) DO UPDATE
SET commit_ts_us = GREATEST(progress.commit_ts_us, EXCLUDED.commit_ts_us),
    commit_lsn = GREATEST(progress.commit_lsn, EXCLUDED.commit_lsn),
    updated_at = clock_timestamp()
"""


class V2Store:
    def __init__(
        self,
        conn: Conn,
        catalog: Catalog,
        graph: FkGraph,
        refill: Refill | None = None,
        *,
        record_versions: bool = True,
    ) -> None:
        self.conn = conn
        self.record_versions = record_versions
        self.catalog = catalog
        self.graph = graph
        self.refill: Refill = refill or (lambda table, keys: {})
        self._staged: set[str] = set()
        self._loaded: list[Parked] = []  # parked items read in this transaction, as stored

    # ------------------------------------------------------------------ reads

    def load_parked(self, touched: Iterable[RowId]) -> LoadedParked:
        """Every parked item of the touched rows, and of the rows waiting for them (transitively: a
        released row releases its own waiters in the same batch)."""
        rows = {rid_text(r) for r in touched}
        if not rows or self.conn.execute(NOTHING_PARKED_SQL).fetchone() == (True,):
            return LoadedParked()  # the common case: no lookups by the batch's every row
        return self._load_rows(rows, self._closure(rows, parents=False) - rows)

    def load_expired(self, now_us: int, limit: int) -> LoadedParked:
        """Parked rows with an item past its deadline (each whole row, so its order holds), with the
        parked rows linked to them either way. Rows another worker is handling are left to it."""
        tables = sorted(self.graph.keys)  # only this mapping's tables: never another pipeline's state
        due = {d[0] for d in self.conn.execute(EXPIRED_SQL, [now_us, texts(tables), limit]).fetchall()}
        if not due:
            return LoadedParked()
        return self._load_rows(set(), self._closure(due, parents=True))

    def _closure(self, seeds: set[str], *, parents: bool) -> set[str]:
        """``seeds`` plus the parked rows waiting for them, transitively; with ``parents``, also the
        parked rows they wait for (a parent that is itself parked, or the other half of a cycle).
        Resolving only part of such a chain would leave the rest parked for good: nothing else ever
        touches a row that already arrived. Bounded by ``CLOSURE_MAX_ROWS``; the sweep finds the rest."""
        rows, frontier = set(seeds), set(seeds)
        while frontier and len(rows) < CLOSURE_MAX_ROWS:
            found = {w[0] for w in self.conn.execute(WAITERS_SQL, [texts(sorted(frontier))])}
            if parents:
                found.update(a[0] for a in self.conn.execute(AWAITED_PARKED_SQL, _split(frontier)))
            frontier = found - rows
            rows |= frontier
        return rows

    def _load_rows(self, required: set[str], linked: set[str]) -> LoadedParked:
        """Lock and load parked rows. ``required`` rows (the batch's own) wait for their locks: their
        order with the batch's changes depends on it. Of the ``linked`` rows, only those whose every
        item this worker could lock at once are loaded; another worker is handling the rest."""
        out = LoadedParked()
        records = self._lock(required, skip_locked=False) if required else []
        if linked:
            locked = self._lock(linked, skip_locked=True)
            totals: dict[str, int] = dict(self.conn.execute(ITEM_COUNTS_SQL, _split(linked)).fetchall())
            held = Counter(f"{r[0]} {r[1]}" for r in locked)
            records += [r for r in locked if held[f"{r[0]} {r[1]}"] == totals.get(f"{r[0]} {r[1]}")]
        for _t, _k, _c, _l, fixup, since_us, deadline_us, waiting_for, item, key, value, headers in records:
            positioned = decode_item(item)
            out.items.append(
                Parked(positioned, since_us, frozenset(rid_parse(w) for w in waiting_for), fixup, deadline_us)
            )
            self._loaded.append(out.items[-1])
            out.originals[(positioned.topic, positioned.partition, positioned.offset)] = Original(
                key, value, decode_headers(headers)
            )
        return out

    def _lock(self, rows: set[str], *, skip_locked: bool) -> list[tuple[Any, ...]]:
        statement = PARKED_ROWS_SQL.format(skip_locked=" SKIP LOCKED" if skip_locked else "")
        return self.conn.execute(statement, _split(rows)).fetchall()

    def lookups(self, request: LookupRequest, parked: Sequence[Parked], now_us: int) -> Lookups:
        return Lookups(
            now_us=now_us,
            existing=self._existing(request.parent_keys),
            versions=self._versions(request.rows),
            parked=parked,
            referencing=self._referencing(request),
        )

    def _existing(self, parent_keys: Mapping[str, frozenset[tuple[object, ...]]]) -> set[RowId]:
        existing: set[RowId] = set()
        for table, keys in parent_keys.items():
            if not keys:
                continue
            key = self.graph.keys[table]
            statement, params = select_keys(self.catalog, table, key, key, keys)
            for row in self.conn.execute(statement, params):
                existing.add(row_id(table, tuple(row[len(key) :])))
        return existing

    def _versions(self, rows: frozenset[RowId]) -> dict[RowId, RowVersion]:
        if not rows:
            return {}
        found = self.conn.execute(VERSIONS_SQL, _ids(list(rows))).fetchall()
        return {(t, k): RowVersion(Position(c, lsn), deleted) for t, k, c, lsn, deleted in found}

    def _referencing(self, request: LookupRequest) -> dict[RowId, set[RowId]]:
        grouped: dict[tuple[str, tuple[str, ...]], list[Any]] = defaultdict(list)
        for lookup in request.children:
            grouped[(lookup.child_table, lookup.child_columns)].append(lookup)
        out: dict[RowId, set[RowId]] = {lookup.parent: set() for lookup in request.children}
        for (table, columns), lookups in grouped.items():
            key = self.graph.keys[table]
            statement, params = select_keys(self.catalog, table, key, columns, {lk.values for lk in lookups})
            by_values: dict[tuple[object, ...], set[RowId]] = defaultdict(set)
            for row in self.conn.execute(statement, params):
                by_values[canonical_key(row[: len(columns)])].add(row_id(table, tuple(row[len(columns) :])))  # type: ignore[index]
            for lookup in lookups:
                out[lookup.parent] |= by_values.get(canonical_key(lookup.values), set())  # type: ignore[call-overload]
        return out

    # ------------------------------------------------------------------ writes

    def write(self, steps: Sequence[Step], originals: Mapping[tuple[str, int, int], Original]) -> None:
        """Data writes, one statement per run (``write_runs``: one table and column set, as few runs as
        the steps' dependencies allow), then versions and parked items."""
        for run in write_runs(steps, self.graph):
            self._flush(run.steps)
        if self.record_versions:
            self._write_versions(steps)
        self._write_parked(steps, originals)

    def _flush(self, run: list[Step]) -> None:
        table = run[0].change.table
        if isinstance(run[0].change, Delete):
            keys = {canonical_key(s.change.key): s.change.key for s in run}
            self._delete(table, list(keys.values()))
            return
        merged: dict[RowId, dict[str, object]] = {}
        for step in run:
            change = step.change
            assert isinstance(change, Upsert)
            earlier = merged.get(step.item.row)
            merged[step.item.row] = change.values if earlier is None else {**earlier, **change.values}
        complete = self._complete_columns(table)
        for columns, rows in _group_by_columns(merged.values()).items():
            if complete <= set(columns):
                self._upsert(table, columns, rows)
            else:
                self._update_partial(table, columns, rows)

    def lane_open(self, tables: Iterable[str]) -> bool:
        """Whether nothing is parked and no row of ``tables`` has a stored version: then an upsert that is
        its row's only change needs no more than its parents (``upsert_present``)."""
        return self.conn.execute(LANE_OPEN_SQL, [texts(sorted(tables))]).fetchone() == (True,)

    def upsert_present(self, table: str, rows: Sequence[dict[str, object]]) -> set[int]:
        """Write the ``rows`` of ``table`` whose every parent (the mapping's relationships) is in V2 now,
        as ``_flush`` writes upserts; return the indexes of the others, unwritten. V2 is asked once per
        relationship for the batch's distinct references (``take_absent_parents``), instead of building
        each row's references in Python. A row referencing a row of the same batch is returned too, and
        so are rows without every column an INSERT needs (``_update_partial``'s case): the resolver
        decides those. So is every row when a relationship's columns differ in type from the parent's
        key (V2's equality and the resolver's canonical keys could disagree). Each row's key must be
        unique in ``rows``.

        A row counts as written only on evidence: every staged row V2 took out must be recognised among
        ``rows`` by its key as V2 returned it, and the INSERT must report the rest. Otherwise
        ``LaneMismatchError`` (a key V2 stores in another type, e.g. int read into numeric): the caller's
        savepoint undoes all of it, and the resolver writes the rows instead."""
        key = self.graph.keys[table]
        needed = self._complete_columns(table) | set(key)
        relationships = [rel for rel, _order in self.graph.relationships_for(table)]
        if not all(self._same_types(table, r.columns, r.references, r.ref_columns) for r in relationships):
            return set(range(len(rows)))
        held: set[int] = set()
        for columns, indexes in _column_groups(rows).items():
            if not needed <= set(columns):
                held.update(indexes)
                continue
            self._stage_rows(table, columns, [rows[n] for n in indexes])
            absent: set[str] = set()
            for rel in relationships:
                statement = take_absent_parents(
                    self.catalog.schema,
                    table,
                    columns=rel.columns,
                    parent=rel.references,
                    parent_columns=rel.ref_columns,
                    key=key,
                )
                absent.update(canonical_key(found) for found in self.conn.execute(statement))
            back = [n for n in indexes if absent and canonical_key([rows[n][k] for k in key]) in absent]
            if len(back) != len(absent):
                raise LaneMismatchError(f"{table}: {len(absent) - len(back)} row(s) not recognised by key")
            held.update(back)
            staged = len(indexes) - len(back)
            written = self._insert_staged(table, columns)
            if written != staged and set(columns) - set(key):  # with key columns alone: DO NOTHING
                raise LaneMismatchError(f"{table}: {written} row(s) written of {staged} staged")
        return held

    def _same_types(
        self, table: str, columns: Sequence[str], parent: str, parent_columns: Sequence[str]
    ) -> bool:
        child_entry, parent_entry = self.catalog.table(table), self.catalog.table(parent)
        if child_entry is None or parent_entry is None:
            return False
        child = {c.name: c.type_name for c in child_entry.columns}
        of_parent = {c.name: c.type_name for c in parent_entry.columns}
        return all(
            child.get(c) is not None and child.get(c) == of_parent.get(p)
            for c, p in zip(columns, parent_columns, strict=True)
        )

    def _complete_columns(self, table: str) -> set[str]:
        """Columns an INSERT must carry: NOT NULL without a default."""
        entry = self.catalog.table(table)
        assert entry is not None
        return {c.name for c in entry.columns if not c.nullable and not c.has_default}

    def _update_partial(self, table: str, columns: Sequence[str], rows: list[dict[str, object]]) -> None:
        """Rows missing some columns (unchanged TOAST values): UPDATE only what came. A row V2 lacks is
        completed from V1 first (``refill``), because an INSERT needs every NOT NULL column."""
        key = self.graph.keys[table]
        stage = self._stage(table)
        self._copy(table, columns, ([r[c] for c in columns] for r in rows))
        # The join below needs the staged row count, or it hashes the whole V2 table (see sink.keys).
        self.conn.execute(sql.SQL("ANALYZE {}").format(stage))
        non_key = [c for c in columns if c not in key]
        updated: set[str] = set()
        if non_key:
            cur = self.conn.execute(
                sql.SQL("UPDATE {}.{} t SET {} FROM {} s WHERE {} RETURNING {}").format(
                    sql.Identifier(self.catalog.schema),
                    sql.Identifier(table),
                    sql.SQL(", ").join(sql.SQL("{0} = s.{0}").format(sql.Identifier(c)) for c in non_key),
                    stage,
                    sql.SQL(" AND ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in key),
                    sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k in key),
                )
            )
            updated = {canonical_key(r) for r in cur.fetchall()}
        absent = [r for r in rows if canonical_key([r[k] for k in key]) not in updated]
        if absent:
            full = self.refill(table, [tuple(r[k] for k in key) for r in absent])
            merged = [
                {**full[canonical_key([r[k] for k in key])], **r}
                for r in absent
                if canonical_key([r[k] for k in key]) in full
            ]
            for cols, group in _group_by_columns(merged).items():
                self._upsert(table, cols, group)

    def rolled_back(self) -> None:
        """A savepoint around writes was rolled back: the staging tables created inside it are gone."""
        self._staged.clear()

    def _stage(self, table: str) -> sql.Identifier:
        if table not in self._staged:
            self.conn.execute(create_stage(self.catalog.schema, table))
            self._staged.add(table)
        self.conn.execute(truncate_stage(table))
        return sql.Identifier(stage_name(table))

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        copy_into(self.conn, self.catalog, table, columns, rows)

    def _upsert(self, table: str, columns: Sequence[str], rows: list[dict[str, object]]) -> None:
        self._stage_rows(table, columns, rows)
        self._insert_staged(table, columns)

    def _stage_rows(self, table: str, columns: Sequence[str], rows: Sequence[dict[str, object]]) -> None:
        self._stage(table)
        self._copy(table, columns, ([r[c] for c in columns] for r in rows))

    def _insert_staged(self, table: str, columns: Sequence[str]) -> int:
        """The staged rows into ``table`` (``upsert_from_stage``); how many were inserted or updated."""
        key = tuple(self.graph.keys[table])
        return self.conn.execute(upsert_from_stage(self.catalog.schema, table, tuple(columns), key)).rowcount

    def _delete(self, table: str, keys: list[tuple[object, ...]]) -> None:
        statement, params = delete_keys(self.catalog, table, self.graph.keys[table], keys)
        self.conn.execute(statement, params)

    def _write_versions(self, steps: Sequence[Step]) -> None:
        latest: dict[RowId, tuple[Position, bool]] = {}
        for step in steps:
            if step.action is not Action.APPLY:
                continue
            rid = step.item.row
            entry = (step.item.position, isinstance(step.change, Delete))
            if rid not in latest or latest[rid][0] < entry[0]:
                latest[rid] = entry
        if not latest:
            return
        rows = [(t, k, p.commit_lsn, p.lsn, d) for (t, k), (p, d) in latest.items()]
        self.conn.execute(WRITE_VERSIONS_SQL, _positioned(rows))

    def _write_parked(
        self,
        steps: Sequence[Step],
        originals: Mapping[tuple[str, int, int], Original],
    ) -> None:
        stored = {parked_id(p.item, fixup=p.fixup): (p.deadline_us, p.waiting_for) for p in self._loaded}
        writes = parked_writes(steps, stored)
        if writes.remove:
            self.conn.execute(UNPARK_SQL, _positioned(writes.remove))
        if writes.upsert:
            upsert = []
            for step in writes.upsert:
                item, park = step.item, step.park
                assert park is not None
                original = originals.get((item.topic, item.partition, item.offset), Original(None, None))
                upsert.append(
                    (
                        *parked_id(item, fixup=park.fixup),
                        park.since_us,
                        park.deadline_us,
                        [rid_text(r) for r in sorted(park.waiting_for)],
                        encode_item(item).decode(),
                        original.key,
                        original.value,
                        encode_headers(original.headers),
                    )
                )
            with self.conn.cursor() as cur:
                cur.executemany(PARK_SQL, upsert)

    def record(self, ledger: Ledger, progress: Mapping[str, tuple[int, int]]) -> None:
        """Add the batch's books to the ledger; advance per-table progress (commit time, commit LSN)."""
        rows = ledger.entries()
        if rows:
            self.conn.execute(LEDGER_SQL, _columns(rows))
        if progress:
            self.conn.execute(
                PROGRESS_SQL, _columns([(name, ts, lsn) for name, (ts, lsn) in sorted(progress.items())])
            )


def copy_into(
    conn: Conn, catalog: Catalog, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """COPY ``rows`` (values of ``columns``) into ``table``'s staging table (``statements.stage_name``).
    A date, time or timestamp array that mixes an infinity (or 24:00:00) with other values goes as
    PostgreSQL's array text: psycopg cannot dump such a list."""
    entry = catalog.table(table)
    assert entry is not None
    kinds = {c.name for c in entry.columns if c.is_array and c.base_type in TEMPORAL_TYPES}
    temporal = tuple(i for i, c in enumerate(columns) if c in kinds)
    with conn.cursor().copy(copy_into_stage(table, tuple(columns))) as copy:
        for row in rows:
            if temporal:
                row = _with_infinite_arrays(row, temporal)  # noqa: PLW2901 - the row as written
            copy.write_row(row)


def _with_infinite_arrays(row: Sequence[object], positions: tuple[int, ...]) -> Sequence[object]:
    """``row`` with each array that mixes an infinity with finite values as PostgreSQL's array text
    (``pipeline.infinity.array_literal``): psycopg cannot dump such a list."""
    mixed = [i for i in positions if mixes_infinity(row[i])]
    if not mixed:
        return row
    out = list(row)
    for i in mixed:
        out[i] = array_literal(out[i])  # type: ignore[arg-type]
    return out


def _columns(rows: Sequence[tuple[object, ...]]) -> list[list[object]]:
    """Rows → one list per column: the arrays of an ``unnest`` statement."""
    return [list(column) for column in zip(*rows, strict=True)]


def _group_by_columns(rows: Iterable[dict[str, object]]) -> dict[tuple[str, ...], list[dict[str, object]]]:
    listed = list(rows)
    return {columns: [listed[n] for n in group] for columns, group in _column_groups(listed).items()}


def _column_groups(rows: Sequence[dict[str, object]]) -> dict[tuple[str, ...], list[int]]:
    """Indexes of ``rows`` by column set: one statement per column set, whichever mapping built it. Rows
    one mapping built list their columns in one order: each order is sorted once."""
    out: dict[tuple[str, ...], list[int]] = defaultdict(list)
    sorted_of: dict[tuple[str, ...], tuple[str, ...]] = {}
    for n, row in enumerate(rows):
        names = tuple(row)
        columns = sorted_of.get(names)
        if columns is None:
            columns = sorted_of[names] = tuple(sorted(names))
        out[columns].append(n)
    return out
