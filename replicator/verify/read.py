"""Reading one chunk from each side. V1 is read in a REPEATABLE READ snapshot whose position (LSN) is
taken with it; V2 is read as it is now, with row versions and parked changes on request."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg.types.string import TextLoader

from replicator.mapping.engine import MappingEngine
from replicator.mapping.model import Mapping as MappingModel
from replicator.pipeline.fk import FkGraph, canonical_key
from replicator.verify import sql as q
from replicator.verify.chunks import Chunk, Key, Tokens, exact_json, tokens
from replicator.verify.expected import (
    TableSpec,
    apply_orphan_policies,
    map_source_rows,
    orphan_refs,
    table_spec,
    to_tokens,
)
from replicator.verify.lookup import ParentLookup

__all__ = ["ChunkRead", "ExpectedRead", "Reader", "connect_v1", "connect_v2"]


def _json_text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode()


def connect_v1(conninfo: str) -> psycopg.Connection[Any]:
    """V1, read-only snapshots; jsonb kept as its text, as Debezium delivers it; intervals as text."""
    conn = psycopg.connect(conninfo)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    set_json_loads(_json_text, conn)
    _interval_as_text(conn)
    return conn


def connect_v2(conninfo: str) -> psycopg.Connection[Any]:
    """V2, autocommit; jsonb parsed exactly (numbers as Decimal); intervals as text."""
    conn = psycopg.connect(conninfo, autocommit=True)
    set_json_loads(exact_json, conn)
    _interval_as_text(conn)
    return conn


def _interval_as_text(conn: psycopg.Connection[Any]) -> None:
    """psycopg reads an interval into a ``timedelta``, which has no months: ``1 mon`` and ``30 days``
    (different in PostgreSQL: a month from January 31 is not 30 days from it) would compare equal, and
    ``repair missing`` would write ``1 year`` back as ``365 days``. As text, as the stream carries it,
    both stay exact."""
    conn.adapters.register_loader("interval", TextLoader)


def _display(value: object) -> object:
    """A key value as JSON shows it (keys only ever reach output, never other values)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal | uuid.UUID | dt.date | dt.time):
        return str(value)
    return repr(value)


@dataclass(frozen=True, slots=True)
class ExpectedRead:
    """V1 through the mapping for a chunk (or some keys), read in one snapshot at ``lsn``."""

    tokens: dict[str, Tokens]
    stamps: dict[str, tuple[str, ...]]  # canonical key → versions of the V1 rows it comes from
    keys: dict[str, Key]
    display: dict[str, dict[str, object]]
    lsn: str
    lsn_value: int
    rows: dict[str, dict[str, object]]
    """Canonical key → the V2 row V1 produces (the mapped columns), as ``repair missing`` writes it."""

    def state(self) -> dict[str, tuple[tuple[str, ...], Tokens]]:
        """What a second read must repeat for a difference to count (``compare.unchanged_in_v1``)."""
        return {ck: (self.stamps[ck], t) for ck, t in self.tokens.items()}


@dataclass(frozen=True, slots=True)
class ChunkRead:
    expected: ExpectedRead
    actual: dict[str, Tokens]
    display: dict[str, dict[str, object]]  # canonical key → {key column: value}


class Reader:
    """Reads chunks of V2 tables from both sides. Holds one V1 and one V2 connection."""

    def __init__(
        self, v1: psycopg.Connection[Any], v2: psycopg.Connection[Any], mapping: MappingModel
    ) -> None:
        self.v1 = v1
        self.v2 = v2
        self.mapping = mapping
        self.engine = MappingEngine(mapping)
        self.graph = FkGraph(mapping)
        self._specs: dict[str, TableSpec] = {}

    def spec(self, table: str) -> TableSpec:
        if table not in self._specs:
            rows = self.v2.execute(q.V2_COLUMNS, [self.mapping.target_schema, table]).fetchall()
            catalog = {str(name): (str(kind), bool(default)) for name, kind, default in rows}
            self._specs[table] = table_spec(self.mapping, table, catalog)
        return self._specs[table]

    # -- planning

    def boundaries(self, spec: TableSpec, every: int) -> list[list[tuple[object, ...]]]:
        """Every ``every``-th key of V2 and of each V1 source (through its copied key columns)."""
        out = []
        statement, params = q.sample_sql(
            self.mapping.target_schema, spec.table, spec.key, every, text=spec.text_key_columns
        )
        out.append([tuple(r) for r in self.v2.execute(statement, params)])
        with self.v1.transaction():
            for _, source, columns in spec.sources:
                assert columns is not None  # only called for chunkable tables
                statement, params = q.sample_sql(
                    self.mapping.source_schema, source, columns, every, text=self._v1_text(spec, columns)
                )
                out.append([tuple(r) for r in self.v1.execute(statement, params)])
        return out

    def v2_count(self, table: str) -> int:
        from psycopg import sql

        statement = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(self.mapping.target_schema), sql.Identifier(table)
        )
        row = self.v2.execute(statement).fetchone()
        return int(row[0]) if row else 0

    # -- reading

    def read(self, spec: TableSpec, chunk: Chunk) -> ChunkRead:
        """V1 through the mapping (one snapshot, its LSN), then V2, for one chunk."""
        expected = self.read_expected(spec, chunk)
        actual, actual_display, _ = self.read_actual(spec, chunk)
        return ChunkRead(expected, actual, {**actual_display, **expected.display})

    def read_expected(self, spec: TableSpec, chunk: Chunk, keys: list[Key] | None = None) -> ExpectedRead:
        """The chunk's expected rows — or, with ``keys``, only those V2 keys' — in one V1 snapshot."""
        with self.v1.transaction():
            position = self.v1.execute(q.CURRENT_LSN).fetchone()
            assert position is not None
            sources: list[tuple[str, Mapping[str, object]]] = []
            stamps: list[str] = []
            for _, source, columns in spec.sources:
                if columns is None:  # computed key: the whole source (the table is one chunk)
                    statement, params = q.select_range_sql(
                        self.mapping.source_schema, source, None, [], Chunk(0, None, None)
                    )
                elif keys is not None:
                    statement, params = q.lookup_sql(self.mapping.source_schema, source, columns, keys)
                else:
                    statement, params = q.select_range_sql(
                        self.mapping.source_schema,
                        source,
                        None,
                        columns,
                        chunk,
                        text=self._v1_text(spec, columns),
                    )
                with self.v1.cursor(row_factory=dict_row) as cur:
                    for row in cur.execute(statement, params):
                        stamps.append(str(row.pop(q.XMIN)))
                        sources.append((source, row))
            rows = map_source_rows(self.engine, spec.table, sources, stamps)
            if keys is not None:
                wanted = {canonical_key(k) for k in keys}
                rows = {ck: row for ck, row in rows.items() if ck in wanted}
            lookup = ParentLookup(self.v1, self.mapping, self.engine, self.graph)
            present = lookup.presence(orphan_refs(spec.table, rows, self.graph))
            rows = apply_orphan_policies(spec.table, rows, self.graph, present)
        values = {ck: row.values for ck, row in rows.items()}
        display = {ck: dict(zip(spec.key, map(_display, row.key), strict=True)) for ck, row in rows.items()}
        return ExpectedRead(
            tokens=to_tokens(spec, values),
            stamps={ck: row.stamp for ck, row in rows.items()},
            keys={ck: row.key for ck, row in rows.items()},
            display=display,
            lsn=str(position[0]),
            lsn_value=int(position[1]),
            rows=values,
        )

    def read_actual(
        self, spec: TableSpec, chunk: Chunk
    ) -> tuple[dict[str, Tokens], dict[str, dict[str, object]], dict[str, Key]]:
        """V2's rows of the chunk as tokens, with display keys and typed keys."""
        select = sorted(set(spec.columns) | set(spec.key))
        statement, params = q.select_range_sql(
            self.mapping.target_schema, spec.table, select, spec.key, chunk, text=spec.text_key_columns
        )
        actual: dict[str, Tokens] = {}
        display: dict[str, dict[str, object]] = {}
        typed: dict[str, Key] = {}
        with self.v2.cursor(row_factory=dict_row) as cur:
            for row in cur.execute(statement, params):
                key = tuple(row[k] for k in spec.key)
                ck = canonical_key(key)
                actual[ck] = tokens(row, spec.columns, spec.json_columns)
                display[ck] = dict(zip(spec.key, map(_display, key), strict=True))
                typed[ck] = key
        return actual, display, typed

    def in_flight_state(self, table: str, keys: list[str]) -> tuple[dict[str, int], set[str]]:
        """Row versions (commit LSN) and parked changes of some V2 rows."""
        (versions_sql, vparams), (parked_sql, pparams) = q.versions_sql(table, keys)
        versions = {str(pk): int(lsn) for pk, lsn in self.v2.execute(versions_sql, vparams)}
        parked = {str(pk) for (pk,) in self.v2.execute(parked_sql, pparams)}
        return versions, parked

    def _v1_text(self, spec: TableSpec, v1_columns: tuple[str, ...]) -> frozenset[str]:
        return frozenset(
            v1 for v1, v2 in zip(v1_columns, spec.key, strict=True) if v2 in spec.text_key_columns
        )
