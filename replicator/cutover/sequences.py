"""V2's id sequences, made ready for V2 to generate ids itself after the flip.

Replication writes V1's ids into V2 explicitly, so V2's sequences (identity and serial columns) stay
where V2's schema or the earlier batch migration left them: the application's first insert into V2
after the flip would take an id V2 already holds. Once V1 is frozen and drained, each sequence behind
a column of a V2 table the mapping writes (identity, ``serial``, or a default ``nextval('…')`` naming a
sequence, possibly one several tables share) is moved to the larger of

* the column's highest value in V2, plus one, and
* the next value of the V1 sequence behind that column (a plain copy of a V1 column with a sequence):
  an id V1 handed out and lost (a rolled-back insert, a deleted row) is not handed out again,

over every column the sequence serves.

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

__all__ = [
    "Identity",
    "Move",
    "SequenceColumn",
    "advance",
    "describe",
    "plan_moves",
    "read_identities",
    "sequence_columns",
    "target",
]

Conn = psycopg.Connection[Any]

SEQUENCE_COLUMNS_SQL = """
WITH links AS (
    SELECT d.refobjid AS table_oid, d.refobjsubid AS attnum, d.objid AS sequence_oid
    FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.deptype IN ('a', 'i')
    UNION
    SELECT ad.adrelid, ad.adnum, d.refobjid
    FROM pg_attrdef ad
    JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
        AND d.refclassid = 'pg_class'::regclass
)
SELECT c.relname, a.attname, format('%%I.%%I', sn.nspname, s.relname),
       ps.last_value, ps.start_value, ps.increment_by
FROM links l
JOIN pg_class s ON s.oid = l.sequence_oid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class c ON c.oid = l.table_oid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = l.attnum
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE n.nspname = %s AND c.relname = ANY(%s)
ORDER BY 1, 2, 3
"""
"""The sequence behind each column of the named tables: owned by it (``serial``: dependency 'a';
identity: 'i') or only named by its default (``DEFAULT nextval('…')``, a sequence possibly shared by
several tables), with the value ``nextval`` would return next."""


@dataclass(frozen=True, slots=True)
class SequenceColumn:
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


def sequence_columns(conn: Conn, schema: str, tables: Sequence[str]) -> list[SequenceColumn]:
    """Every column of ``tables`` that takes its values from a sequence (``SEQUENCE_COLUMNS_SQL``)."""
    out = []
    rows = conn.execute(SEQUENCE_COLUMNS_SQL, [schema, list(tables)])
    for table, column, sequence, last, start, increment in rows:
        upcoming = int(start) if last is None else int(last) + int(increment)
        out.append(SequenceColumn(str(table), str(column), str(sequence), upcoming, int(increment)))
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
    v1_next = {
        (o.table, o.column): o.next_value
        for o in sequence_columns(v1, mapping.source_schema, sorted(sources))
    }
    out = []
    for owned in sequence_columns(v2, mapping.target_schema, tables):
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


def plan_moves(identities: Iterable[Identity]) -> list[Move]:
    """One move per sequence that is behind: to the largest ``target`` of the columns it serves (a
    sequence shared by several tables must pass all of their ids). Pure."""
    best: dict[str, Move] = {}
    for identity in identities:
        to = target(identity)
        if to is not None and (identity.sequence not in best or to > best[identity.sequence].to):
            best[identity.sequence] = Move(identity, to)
    return list(best.values())


def advance(v2: Conn, identities: Iterable[Identity]) -> list[Move]:
    """Set each sequence that is behind (``plan_moves``); the moves made."""
    moves = plan_moves(identities)
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
    sequences = len({i.sequence for i in identities})
    text = f"{len(moves)} of {sequences} V2 id sequences moved past V2's ids and V1's sequences"
    if moved:
        text += f" ({moved}{', …' if len(moves) > 5 else ''})"
    if counting_down:
        text += f"; left alone, counting down: {', '.join(counting_down)}"
    return text
