"""``orphans fix``: clean V1's orphaned references by each relationship's policy, keeping what it changed.

Per relationship (and child table), in one V1 transaction: the orphan rows are copied, whole, into
``replicator.orphan_backup``, then fixed — ``set_null`` clears the reference columns, ``drop`` deletes
the rows. ``dead_letter`` relationships are left alone (their children need their parents inserted,
or another policy) unless ``delete_dead_letter_orphans``. The changes reach V2 through Debezium like
any other. Deleting a row can orphan rows that referenced it, so passes repeat until one fixes
nothing (at most ``MAX_PASSES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from replicator.mapping.model import Mapping, OnOrphan
from replicator.orphans.queries import OrphanQuery, orphan_queries

__all__ = ["MAX_PASSES", "Fix", "FixReport", "fix_orphans"]

MAX_PASSES = 5
BACKUP_SQL = """
INSERT INTO replicator.orphan_backup (relationship, tbl, action, row_before)
SELECT {relationship}, {table_name}, {action}, to_jsonb(c) FROM {schema}.{table} c WHERE {predicate}
"""


@dataclass(slots=True)
class Fix:
    relationship: str
    table: str
    columns: tuple[str, ...]
    action: str
    """``set_null``, ``delete`` or ``skip`` (a dead_letter relationship left alone)."""
    rows: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "relationship": self.relationship,
            "table": self.table,
            "columns": list(self.columns),
            "action": self.action,
            "rows": self.rows,
            "error": self.error,
        }


@dataclass(slots=True)
class FixReport:
    fixes: list[Fix] = field(default_factory=list)
    passes: int = 0
    dry_run: bool = False

    @property
    def changed(self) -> int:
        return sum(f.rows for f in self.fixes if f.action != "skip" and f.error is None)

    @property
    def skipped(self) -> int:
        return sum(f.rows for f in self.fixes if f.action == "skip")

    @property
    def failed(self) -> list[Fix]:
        return [f for f in self.fixes if f.error is not None]


def fix_orphans(
    conn: psycopg.Connection[Any],
    mapping: Mapping,
    *,
    relationships: frozenset[str] = frozenset(),
    delete_dead_letter_orphans: bool = False,
    dry_run: bool = False,
) -> FixReport:
    """Fix the orphans of ``relationships`` (all when empty); ``conn`` in autocommit. ``dry_run`` counts
    what one pass would change and changes nothing."""
    queries = [
        q
        for q in orphan_queries(mapping)
        if isinstance(q, OrphanQuery) and (not relationships or q.relationship in relationships)
    ]
    report = FixReport(dry_run=dry_run)
    fixes: dict[tuple[str, str], Fix] = {}
    for _ in range(1 if dry_run else MAX_PASSES):
        report.passes += 1
        changed = 0
        for query in queries:
            action = _action(mapping, query.relationship, delete_dead_letter_orphans)
            fix = fixes.setdefault(
                (query.relationship, query.child_table),
                Fix(query.relationship, query.child_table, query.child_columns, action),
            )
            if fix.error is not None:
                continue
            count = _count(conn, query)
            if action == "skip":
                fix.rows = (
                    count  # what is left: a later fix may delete an orphan through another relationship
                )
                continue
            if not count:
                continue
            if dry_run:
                fix.rows += count
                continue
            try:
                with conn.transaction():
                    _backup(conn, mapping, query, action)
                    fix.rows += _apply(conn, mapping, query, action)
            except (psycopg.IntegrityError, psycopg.DataError) as exc:
                fix.error = f"{type(exc).__name__}: {_describe(exc)}" + _hint(exc, action)
                continue
            changed += count
        if not changed:
            break
    report.fixes = [f for f in fixes.values() if f.rows or f.error]
    return report


def _action(mapping: Mapping, relationship: str, delete_dead_letter_orphans: bool) -> str:
    rel = next(r for r in mapping.relationships if r.name == relationship)
    policy = mapping.on_orphan_for(rel)
    if policy is OnOrphan.SET_NULL:
        return "set_null"
    if policy is OnOrphan.DROP or delete_dead_letter_orphans:
        return "delete"
    return "skip"


def _count(conn: psycopg.Connection[Any], query: OrphanQuery) -> int:
    row = conn.execute(query.statement, query.params).fetchone()
    return int(row[0]) if row else 0


def _backup(conn: psycopg.Connection[Any], mapping: Mapping, query: OrphanQuery, action: str) -> None:
    statement = sql.SQL(BACKUP_SQL).format(
        relationship=sql.Literal(query.relationship),
        table_name=sql.Literal(query.child_table),
        action=sql.Literal(action),
        schema=sql.Identifier(mapping.source_schema),
        table=sql.Identifier(query.child_table),
        predicate=query.predicate,
    )
    conn.execute(statement, query.params)


def _apply(conn: psycopg.Connection[Any], mapping: Mapping, query: OrphanQuery, action: str) -> int:
    target = sql.SQL("{}.{} c").format(
        sql.Identifier(mapping.source_schema), sql.Identifier(query.child_table)
    )
    if action == "set_null":
        statement = sql.SQL("UPDATE {} SET {} WHERE {}").format(
            target,
            sql.SQL(", ").join(sql.SQL("{} = NULL").format(sql.Identifier(c)) for c in query.child_columns),
            query.predicate,
        )
    else:
        statement = sql.SQL("DELETE FROM {} WHERE {}").format(target, query.predicate)
    return conn.execute(statement, query.params).rowcount


def _hint(exc: psycopg.Error, action: str) -> str:
    """What to do about a fix V1 refused."""
    if action == "set_null" and isinstance(exc, psycopg.errors.NotNullViolation):
        return (
            " (V1 does not allow NULL there: give the relationship on_orphan: drop or dead_letter in the "
            "mapping, or insert the missing parents)"
        )
    return ""


def _describe(exc: psycopg.Error) -> str:
    """SQLSTATE, constraint and column: never the row (PostgreSQL's DETAIL echoes values)."""
    diag = exc.diag
    parts = [f"sqlstate {diag.sqlstate}"]
    parts += [
        f"{name} {value}"
        for name, value in (("constraint", diag.constraint_name), ("column", diag.column_name))
        if value
    ]
    return ", ".join(parts)
