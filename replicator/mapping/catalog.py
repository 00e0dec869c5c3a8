"""A snapshot of a PostgreSQL schema's tables as plain dataclasses, and ``read_catalog`` which reads it.

The dataclasses are pure (``check.py`` compares them against the mapping); only ``read_catalog`` does I/O,
through a psycopg 3 connection passed in by the caller. Schema names travel as query parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

__all__ = ["Catalog", "CatalogColumn", "CatalogTable", "ForeignKey", "read_catalog"]


@dataclass(frozen=True, slots=True)
class CatalogColumn:
    """A column. ``base_type`` is ``pg_type.typname`` after resolving a domain and, for arrays, the element
    type (``int4``, ``varchar``, ``timestamptz``); ``type_name`` is the display form (``integer[]``)."""

    name: str
    type_name: str
    base_type: str
    nullable: bool = True
    has_default: bool = False  # a default, an identity or a generated column
    is_array: bool = False
    is_enum: bool = False
    is_generated: bool = False  # GENERATED ALWAYS AS (...) STORED: cannot be written


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatalogTable:
    name: str
    columns: tuple[CatalogColumn, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    partitioned: bool = False

    def column(self, name: str) -> CatalogColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True, slots=True)
class Catalog:
    schema: str
    tables: Mapping[str, CatalogTable] = field(default_factory=dict)

    @classmethod
    def of(cls, schema: str, tables: Iterable[CatalogTable]) -> Catalog:
        return cls(schema, {t.name: t for t in tables})

    def table(self, name: str) -> CatalogTable | None:
        return self.tables.get(name)


COLUMNS_SQL = """
SELECT c.relname,
       a.attname,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       coalesce(et.typname, bt.typname),
       NOT a.attnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
       et.oid IS NOT NULL,
       coalesce(et.typtype, bt.typtype) = 'e',
       a.attgenerated <> '',
       c.relkind = 'p'
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
WHERE n.nspname = %(schema)s
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

CONSTRAINTS_SQL = """
SELECT c.relname,
       con.conname,
       con.contype,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       rn.nspname::text,
       rc.relname::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
WHERE n.nspname = %(schema)s
  AND con.contype IN ('p', 'f')
ORDER BY c.relname, con.conname
"""


def read_catalog(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> Catalog:
    """Read the ordinary and partitioned tables of ``schema``: columns, primary keys and foreign keys."""
    columns: dict[str, list[CatalogColumn]] = {}
    partitioned: set[str] = set()
    primary: dict[str, tuple[str, ...]] = {}
    foreign: dict[str, list[ForeignKey]] = {}
    with conn.cursor() as cur:
        cur.execute(COLUMNS_SQL, {"schema": schema})
        for (
            table,
            name,
            type_name,
            base,
            nullable,
            has_default,
            is_array,
            is_enum,
            generated,
            is_partitioned,
        ) in cur.fetchall():
            if is_partitioned:
                partitioned.add(str(table))
            columns.setdefault(str(table), []).append(
                CatalogColumn(
                    name=str(name),
                    type_name=str(type_name),
                    base_type=str(base),
                    nullable=bool(nullable),
                    has_default=bool(has_default),
                    is_array=bool(is_array),
                    is_enum=bool(is_enum),
                    is_generated=bool(generated),
                )
            )
        cur.execute(CONSTRAINTS_SQL, {"schema": schema})
        for table, con_name, kind, cols, ref_schema, ref_table, ref_cols in cur.fetchall():
            col_names = tuple(str(c) for c in cols)  # type: ignore[attr-defined]
            if kind == "p":
                primary[str(table)] = col_names
            else:
                foreign.setdefault(str(table), []).append(
                    ForeignKey(
                        name=str(con_name),
                        columns=col_names,
                        ref_schema=str(ref_schema),
                        ref_table=str(ref_table),
                        ref_columns=tuple(str(c) for c in ref_cols),  # type: ignore[attr-defined]
                    )
                )
    return Catalog(
        schema,
        {
            name: CatalogTable(
                name,
                tuple(cols),
                primary.get(name, ()),
                tuple(foreign.get(name, ())),
                partitioned=name in partitioned,
            )
            for name, cols in columns.items()
        },
    )
