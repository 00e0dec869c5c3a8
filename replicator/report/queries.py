"""The report's SQL, built from the mapping. Pure: returns ``(sql, params)``.

Expected V2 rows come from V1 "through the mapping": each table mapping's V1 rows that pass its filter,
summed per V2 table (a merge adds up its sources, a split counts the V1 table once per target), minus
the rows an orphan policy keeps out of V2 (a reference under ``dead_letter`` or ``drop`` whose parent
is absent in V1). Rows kept out because their parent was itself kept out are not modelled; the demo's
kept-out rows (logs, metadata) are parents of nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from replicator.mapping.model import Mapping, OnOrphan, TableMapping
from replicator.mapping.sql import copied_column, filter_sql

V2_FOREIGN_KEYS = """
SELECT cl.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
       rcl.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord),
       con.conname,
       con.convalidated,
       NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgconstraint = con.oid AND t.tgenabled = 'D')
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
JOIN pg_class rcl ON rcl.oid = con.confrelid
WHERE con.contype = 'f' AND n.nspname = %s
ORDER BY cl.relname, con.conname
"""
"""Every FK constraint of the V2 schema: table, columns, parent, parent columns, name, validated, enabled."""

VERIFICATION = """
SELECT tbl, status, rows_expected, rows_actual, missing, extra, different, checked_at
FROM replicator.verification ORDER BY tbl
"""

TABLE_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"


@dataclass(frozen=True, slots=True)
class SourceCount:
    """Counts the V1 rows one table mapping feeds into V2, and how many of them a policy keeps out."""

    mapping: str
    source: str
    target: str
    statement: sql.Composed
    params: list[object]


def _kept_out(mapping: Mapping, child: TableMapping) -> list[sql.Composable]:
    """One predicate per dead_letter/drop relationship of ``child``: its reference is an orphan in V1."""
    schema = sql.Identifier(mapping.source_schema)
    out: list[sql.Composable] = []
    for rel in mapping.relationships_for(child.target):
        if mapping.on_orphan_for(rel) is OnOrphan.SET_NULL:
            continue
        columns = [copied_column(child, c) for c in rel.columns]
        if any(c is None for c in columns) or any(
            c not in child.columns or child.columns[c].sources == () for c in rel.columns
        ):
            continue  # not fed as a plain copy: not expressible in V1 terms
        parents: list[tuple[str, list[str | None]]] = []
        for parent in mapping.mappings_for_target(rel.references):
            ref = [copied_column(parent, c) for c in rel.ref_columns]
            if any(c is None for c in ref):
                parents = []
                break
            parents.append((parent.source, ref))
        if not parents:
            continue
        not_null = [sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(str(c))) for c in columns]
        absent = [
            sql.SQL("NOT EXISTS (SELECT 1 FROM {}.{} p WHERE {})").format(
                schema,
                sql.Identifier(table),
                sql.SQL(" AND ").join(
                    sql.SQL("p.{} = c.{}").format(sql.Identifier(str(pc)), sql.Identifier(str(cc)))
                    for pc, cc in zip(ref, columns, strict=True)
                ),
            )
            for table, ref in parents
        ]
        out.append(sql.SQL("({})").format(sql.SQL(" AND ").join(not_null + absent)))
    return out


def source_counts(mapping: Mapping) -> list[SourceCount]:
    """Per table mapping: ``SELECT count(*), count(*) FILTER (WHERE kept out)`` on V1."""
    out = []
    for child in mapping.tables:
        where, params = filter_sql("c", child.filter)
        kept_out = _kept_out(mapping, child)
        excluded = sql.SQL(" OR ").join(kept_out) if kept_out else sql.SQL("FALSE")
        statement = sql.SQL("SELECT count(*), count(*) FILTER (WHERE {}) FROM {}.{} c WHERE {}").format(
            excluded, sql.Identifier(mapping.source_schema), sql.Identifier(child.source), where
        )
        out.append(SourceCount(child.name, child.source, child.target, statement, params))
    return out


def target_count(mapping: Mapping, table: str) -> sql.Composed:
    return sql.SQL("SELECT count(*) FROM {}.{}").format(
        sql.Identifier(mapping.target_schema), sql.Identifier(table)
    )
