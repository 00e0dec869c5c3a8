"""Orphan-scan queries built from the mapping's relationships, translated to V1 terms. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from replicator.mapping.model import Mapping, Relationship, TableMapping
from replicator.mapping.sql import copied_column, filter_sql

SAMPLE_KEYS = 10


@dataclass(frozen=True, slots=True)
class OrphanQuery:
    """Counts (and samples the keys of) V1 child rows of one table mapping whose parent is absent in V1."""

    relationship: str
    child_mapping: str
    child_table: str
    child_columns: tuple[str, ...]
    parent_tables: tuple[str, ...]
    statement: sql.Composed
    params: list[object]
    predicate: sql.Composed
    """Which rows of ``<schema>.<child_table> c`` are orphans (with ``params``): what ``orphans fix``
    backs up and fixes."""


@dataclass(frozen=True, slots=True)
class Unscannable:
    relationship: str
    reason: str


def _parent_sources(mapping: Mapping, rel: Relationship) -> list[tuple[TableMapping, tuple[str, ...]]] | str:
    parents = []
    for parent in mapping.mappings_for_target(rel.references):
        columns = tuple(copied_column(parent, c) for c in rel.ref_columns)
        if any(c is None for c in columns):
            return f"{parent.name} does not copy {', '.join(rel.ref_columns)} unchanged from V1"
        parents.append((parent, tuple(c for c in columns if c is not None)))
    if not parents:
        return f"no table mapping produces {rel.references}"
    return parents


def orphan_queries(mapping: Mapping) -> list[OrphanQuery | Unscannable]:
    """One query per (relationship, child table mapping); relationships that cannot be expressed in V1
    terms (a transformed FK column) are returned as Unscannable with the reason."""
    schema = sql.Identifier(mapping.source_schema)
    out: list[OrphanQuery | Unscannable] = []
    for rel in mapping.relationships:
        parents = _parent_sources(mapping, rel)
        if isinstance(parents, str):
            out.append(Unscannable(rel.name, parents))
            continue
        for child in mapping.mappings_for_target(rel.table):
            if any(c not in child.columns or child.columns[c].sources == () for c in rel.columns):
                continue  # this source never sets the reference (unfed or const): it cannot orphan
            child_columns = tuple(copied_column(child, c) for c in rel.columns)
            if any(c is None for c in child_columns):
                out.append(
                    Unscannable(rel.name, f"{child.name} computes {', '.join(rel.columns)} with a transform")
                )
                continue
            columns = tuple(c for c in child_columns if c is not None)
            out.append(_query(schema, rel, child, columns, parents))
    return out


def _query(
    schema: sql.Identifier,
    rel: Relationship,
    child: TableMapping,
    columns: tuple[str, ...],
    parents: list[tuple[TableMapping, tuple[str, ...]]],
) -> OrphanQuery:
    not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in columns)
    absent = sql.SQL(" AND ").join(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {}.{} p WHERE {})").format(
            schema,
            sql.Identifier(parent.source),
            sql.SQL(" AND ").join(
                sql.SQL("p.{} = c.{}").format(sql.Identifier(pc), sql.Identifier(cc))
                for pc, cc in zip(parent_columns, columns, strict=True)
            ),
        )
        for parent, parent_columns in parents
    )
    where, params = filter_sql("c", child.filter)
    key = [copied_column(child, k) or k for k in child.key]
    key_expr = sql.SQL("jsonb_build_array({})").format(
        sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(k)) for k in key)
    )
    predicate = sql.SQL("{not_null} AND {absent} AND {where}").format(
        not_null=not_null, absent=absent, where=where
    )
    statement = sql.SQL(
        "SELECT count(*), (array_agg({key} ORDER BY {key}))[1:{n}] FROM {schema}.{table} c WHERE {predicate}"
    ).format(
        key=key_expr,
        n=sql.Literal(SAMPLE_KEYS),
        schema=schema,
        table=sql.Identifier(child.source),
        predicate=predicate,
    )
    return OrphanQuery(
        relationship=rel.name,
        child_mapping=child.name,
        child_table=child.source,
        child_columns=columns,
        parent_tables=tuple(p.source for p, _ in parents),
        statement=statement,
        params=params,
        predicate=predicate,
    )
