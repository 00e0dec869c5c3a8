"""V2's id sequences, made ready for V2 to generate ids itself after the flip.

Replication writes V1's ids into V2 explicitly, so V2's sequences (identity and serial columns) stay
where V2's schema or the earlier batch migration left them: the application's first insert into V2
after the flip would take an id V2 already holds. Once V1 is frozen and drained, each sequence of a
V2 table the mapping writes is moved to the larger of

* the column's highest value in V2, plus one, and
* the next value of the V1 sequence behind that column (a plain copy of a V1 column with a sequence):
  an id V1 handed out and lost (a rolled-back insert, a deleted row) is not handed out again.

Never backwards: a sequence already past both stays. Sequences counting down are left alone (named in
the step's detail). ``target`` is pure; the rest reads and sets the sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.model import Mapping
from replicator.mapping.sql import copied_column

__all__ = ["Identity", "Move", "advance", "describe", "read_identities", "target"]

Conn = psycopg.Connection[Any]

OWNED_SQL = """
SELECT c.relname, a.attname, format('%%I.%%I', sn.nspname, s.relname),
       ps.last_value, ps.start_value, ps.increment_by
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND n.nspname = %s AND c.relname = ANY(%s)
ORDER BY 1, 2
"""
"""Sequences owned by a column (``serial``: dependency 'a'; identity: 'i') of the named tables, with the
value ``nextval`` would return next."""


@dataclass(frozen=True, slots=True)
class Owned:
    table: str
    column: str
    sequence: str
    next_value: int
    increment: int


@dataclass(frozen=True, slots=True)
class Identity:
    """One sequence-backed column of a V2 table, and what bounds its next value."""

    table: str
    column: str
    sequence: str
    next_value: int
    increment: int
    v2_max: int | None
    v1_next: int | None
    """The largest next value of the V1 sequences behind the column (None: none is)."""


@dataclass(frozen=True, slots=True)
class Move:
    identity: Identity
    to: int


def target(identity: Identity) -> int | None:
    """The value V2's sequence must return next, or None when it already may (or counts down)."""
    if identity.increment < 0:
        return None
    bounds = [b for b in (identity.v1_next, identity.v2_max) if b is not None]
    if identity.v2_max is not None:
        bounds[-1] += 1
    wanted = max(bounds, default=identity.next_value)
    return wanted if wanted > identity.next_value else None


def _owned(conn: Conn, schema: str, tables: Sequence[str]) -> list[Owned]:
    out = []
    for table, column, sequence, last, start, increment in conn.execute(OWNED_SQL, [schema, list(tables)]):
        upcoming = int(start) if last is None else int(last) + int(increment)
        out.append(Owned(str(table), str(column), str(sequence), upcoming, int(increment)))
    return out


def _max(conn: Conn, schema: str, table: str, column: str) -> int | None:
    row = conn.execute(
        sql.SQL("SELECT max({})::bigint FROM {}.{}").format(
            sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table)
        )
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def read_identities(v1: Conn, v2: Conn, mapping: Mapping) -> list[Identity]:
    """Every sequence-backed column of the V2 tables the mapping writes, with its bounds."""
    tables = mapping.target_tables()
    sources = {t.source for t in mapping.tables}
    v1_next = {(o.table, o.column): o.next_value for o in _owned(v1, mapping.source_schema, sorted(sources))}
    out = []
    for owned in _owned(v2, mapping.target_schema, tables):
        behind = [
            v1_next[(m.source, column)]
            for m in mapping.mappings_for_target(owned.table)
            if (column := copied_column(m, owned.column)) is not None and (m.source, column) in v1_next
        ]
        out.append(
            Identity(
                owned.table,
                owned.column,
                owned.sequence,
                owned.next_value,
                owned.increment,
                _max(v2, mapping.target_schema, owned.table, owned.column),
                max(behind) if behind else None,
            )
        )
    return out


def advance(v2: Conn, identities: Iterable[Identity]) -> list[Move]:
    """Set each sequence that is behind (``target``); the moves made."""
    moves = [Move(i, to) for i in identities if (to := target(i)) is not None]
    for move in moves:
        v2.execute("SELECT setval(%s::regclass, %s, false)", [move.identity.sequence, move.to])
    return moves


def describe(identities: Sequence[Identity], moves: Sequence[Move]) -> str:
    """The step's detail: how many moved, the largest jumps, what was left alone."""
    if not identities:
        return "no V2 table the mapping writes has a sequence-backed column"
    counting_down = [f"{i.table}.{i.column}" for i in identities if i.increment < 0]
    moved = ", ".join(
        f"{m.identity.table}.{m.identity.column} {m.identity.next_value:,} → {m.to:,}"
        for m in sorted(moves, key=lambda m: m.to - m.identity.next_value, reverse=True)[:5]
    )
    text = f"{len(moves)} of {len(identities)} V2 id sequences moved past V2's ids and V1's sequences"
    if moved:
        text += f" ({moved}{', …' if len(moves) > 5 else ''})"
    if counting_down:
        text += f"; left alone, counting down: {', '.join(counting_down)}"
    return text
