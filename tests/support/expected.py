"""The oracle for end-to-end tests: V2 as it must be after a complete, correct migration, and a
field-by-field comparison with what V2 actually holds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import set_json_loads

from replicator.demo.generate import DemoData, Table, generate
from replicator.demo.v2 import build_v2
from replicator.mapping.model import Mapping
from replicator.pipeline.fk import canonical_key

Rows = dict[str, dict[str, dict[str, Any]]]  # table → canonical key → row


def _exact_json(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def _normalize(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _exact_json(value)
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return _exact_json(json.dumps(value, default=str))
    return value


def expected_v2(mapping: Mapping, *, scale: float, seed: int) -> Rows:
    return _rows(build_v2(generate(scale, seed), mapping, complete=True), mapping)


def v1_through_mapping(v1: psycopg.Connection[Any], mapping: Mapping) -> Rows:
    """What V2 must hold now: V1's current content through the mapping, orphan policies applied."""
    tables = {}
    for name in sorted({t.source for t in mapping.tables}):
        cur = v1.execute(sql.SQL("SELECT * FROM public.{} ORDER BY 1").format(sql.Identifier(name)))
        columns = tuple(d.name for d in cur.description or ())
        tables[name] = Table(name, columns, [tuple(r) for r in cur])
    data = DemoData(scale=0, seed=0, tables=tables, missing={})
    return _rows(build_v2(data, mapping, complete=True), mapping)


def _rows(data: Any, mapping: Mapping) -> Rows:
    keys = {t.target: t.key for t in mapping.tables}
    out: Rows = {}
    for batch in data.batches:
        table = out.setdefault(batch.name, {})
        for row in batch.rows:
            values = dict(zip(batch.columns, row, strict=True))
            key = canonical_key([values[k] for k in keys[batch.name]])
            table[key] = {**table.get(key, {}), **{c: _normalize(v) for c, v in values.items()}}
    return out


def actual_v2(conn: psycopg.Connection[Any], mapping: Mapping, tables: list[str]) -> Rows:
    set_json_loads(_exact_json, conn)
    keys = {t.target: t.key for t in mapping.tables}
    out: Rows = {}
    for table in tables:
        cur = conn.execute(sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(table)))
        names = [d.name for d in cur.description or ()]
        rows = {}
        for record in cur:
            values = dict(zip(names, record, strict=True))
            rows[canonical_key([values[k] for k in keys[table]])] = {
                c: _normalize(v) for c, v in values.items()
            }
        out[table] = rows
    return out


@dataclass(frozen=True)
class TableDiff:
    missing: list[str]
    extra: list[str]
    different: dict[str, list[str]]  # key → differing columns

    @property
    def empty(self) -> bool:
        return not (self.missing or self.extra or self.different)


def diff(expected: Rows, actual: Rows) -> dict[str, TableDiff]:
    """Per table: keys missing in V2, extra in V2, and rows whose expected columns differ."""
    out = {}
    for table, rows in expected.items():
        got = actual.get(table, {})
        different = {}
        for key in rows.keys() & got.keys():
            cols = [c for c, v in rows[key].items() if got[key].get(c) != v]
            if cols:
                different[key] = cols
        result = TableDiff(sorted(rows.keys() - got.keys()), sorted(got.keys() - rows.keys()), different)
        if not result.empty:
            out[table] = result
    return out
