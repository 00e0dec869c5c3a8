"""Compare a mapping with V1 and V2 catalog snapshots, before anything is consumed. Pure.

``check_mapping`` returns findings (errors stop start-up, warnings are printed); ``format_fk_graph``
draws the V2 foreign-key graph the mapping declares, marking cycles and self-references.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from replicator.errors import ConfigError
from replicator.mapping import transforms
from replicator.mapping.catalog import Catalog, CatalogColumn, CatalogTable
from replicator.mapping.model import ColumnSpec, Mapping, OnOrphan, TableMapping
from replicator.mapping.transforms import TypeFamily

__all__ = ["Finding", "Level", "check_mapping", "compatible", "family_of", "format_fk_graph", "require_valid"]

F = TypeFamily


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check result; ``location`` is ``tables.<mapping>.<field>`` or ``relationships.<name>.<field>``."""

    level: Level
    location: str
    message: str
    valid: str | None = None

    def __str__(self) -> str:
        text = f"{self.level.value}: {self.location}: {self.message}"
        return f"{text}; valid: {self.valid}" if self.valid else text


_FAMILIES: dict[str, TypeFamily] = {
    **dict.fromkeys(("int2", "int4", "int8"), F.INTEGER),
    **dict.fromkeys(("numeric", "float4", "float8"), F.NUMERIC),
    **dict.fromkeys(("text", "varchar", "bpchar", "name", "citext", "char"), F.TEXT),
    "bool": F.BOOL,
    "timestamp": F.TIMESTAMP,
    "timestamptz": F.TIMESTAMPTZ,
    "date": F.DATE,
    **dict.fromkeys(("time", "timetz"), F.TIME),
    "interval": F.INTERVAL,
    **dict.fromkeys(("json", "jsonb"), F.JSON),
    "uuid": F.UUID,
    "bytea": F.BYTEA,
}

# (from, to) pairs that fit besides identical families: PostgreSQL casts these implicitly and exactly.
_WIDENING = frozenset(
    {
        (F.INTEGER, F.NUMERIC),
        (F.TEXT, F.ENUM),
        (F.ENUM, F.TEXT),
        (F.DATE, F.TIMESTAMP),
        (F.DATE, F.TIMESTAMPTZ),
    }
)
_INT_RANK = {"int2": 1, "int4": 2, "int8": 3}


def family_of(column: CatalogColumn) -> TypeFamily:
    """The type family of a catalog column (of its elements for an array, see ``element_family``)."""
    if column.is_array:
        return F.ARRAY
    return element_family(column)


def element_family(column: CatalogColumn) -> TypeFamily:
    if column.is_enum:
        return F.ENUM
    return _FAMILIES.get(column.base_type, F.OTHER)


def compatible(src: TypeFamily, dst: TypeFamily) -> bool:
    """Whether a value of family ``src`` fits a column of family ``dst`` without a transform."""
    return (src == dst and src is not F.OTHER) or (src, dst) in _WIDENING


def _columns_fit(src: CatalogColumn, dst: CatalogColumn) -> bool:
    if src.is_array != dst.is_array:
        return False
    s, d = element_family(src), element_family(dst)
    if s is F.OTHER or d is F.OTHER:
        return src.base_type == dst.base_type
    return compatible(s, d)


def _suggest(src: TypeFamily, dst: TypeFamily) -> str:
    names = [
        t.name
        for t in transforms.BUILTINS.values()
        if t.inputs is not None and src in t.inputs and t.output is not None and compatible(t.output, dst)
    ]
    return f"transform {' or '.join(names)}" if names else f"a custom transform from {src} to {dst}"


def _listing(names: Iterable[str]) -> str:
    items = sorted(names)
    return ", ".join(items[:30]) + (", …" if len(items) > 30 else "") if items else "(none)"


def check_mapping(mapping: Mapping, v1: Catalog, v2: Catalog) -> list[Finding]:
    """Every problem of ``mapping`` against the V1 and V2 catalogs, errors and warnings, in file order."""
    findings: list[Finding] = []
    for table in mapping.tables:
        findings.extend(_check_table(table, v1, v2))
    findings.extend(_check_unused(mapping, v1))
    findings.extend(_check_relationships(mapping, v2))
    findings.extend(_check_cycles(mapping, v2))
    return findings


def require_valid(mapping: Mapping, v1: Catalog, v2: Catalog, *, source: str) -> list[Finding]:
    """``check_mapping`` for a command about to write V2 (a worker, the load): its warnings, or a
    ``ConfigError`` naming the first error's field, the mapping file it came from and what is valid, with
    how many more errors ``replicator mapping check`` lists."""
    findings = check_mapping(mapping, v1, v2)
    errors = [f for f in findings if f.level is Level.ERROR]
    if errors:
        first, more = errors[0], len(errors) - 1
        others = f" (and {more} more: `replicator mapping check` lists every error)" if more else ""
        raise ConfigError(first.location, source=source, problem=first.message + others, valid=first.valid)
    return findings


def _err(location: str, message: str, valid: str | None = None) -> Finding:
    return Finding(Level.ERROR, location, message, valid)


def _warn(location: str, message: str, valid: str | None = None) -> Finding:
    return Finding(Level.WARNING, location, message, valid)


def _check_table(table: TableMapping, v1: Catalog, v2: Catalog) -> Iterator[Finding]:
    at = f"tables.{table.name}"
    src = v1.table(table.source)
    dst = v2.table(table.target)
    if src is None:
        yield _err(f"{at}.source", f"V1 table {v1.schema}.{table.source} does not exist", _listing(v1.tables))
    if dst is None:
        yield _err(f"{at}.target", f"V2 table {v2.schema}.{table.target} does not exist", _listing(v2.tables))
    if src is not None:
        yield from _check_v1_columns(table, src)
        yield from _check_debezium_limits(table, src)
    if dst is not None:
        yield from _check_v2_columns(table, dst)
    if src is not None and dst is not None:
        for name, spec in table.columns.items():
            v2_col = dst.column(name)
            if v2_col is not None:
                yield from _check_types(f"{at}.columns.{name}", spec, src, v2_col)
        yield from _check_key(table, src, dst)


def _check_v1_columns(table: TableMapping, src: CatalogTable) -> Iterator[Finding]:
    at = f"tables.{table.name}"
    valid = _listing(src.column_names)
    for name, spec in table.columns.items():
        for col in spec.sources:
            if src.column(col) is None:
                yield _err(
                    f"{at}.columns.{name}.from", f"V1 column {table.source}.{col} does not exist", valid
                )
    for position, cond in enumerate(table.filter):
        if src.column(cond.column) is None:
            yield _err(
                f"{at}.filter[{position}].column",
                f"V1 column {table.source}.{cond.column} does not exist",
                valid,
            )
    for position, col in enumerate(table.drop):
        if src.column(col) is None:
            yield _warn(
                f"{at}.drop[{position}]", f"dropped V1 column {table.source}.{col} does not exist", valid
            )


_REPAIRED = (
    "`replicator verify` reports such rows as different and `replicator repair missing` writes V1's value"
)
_DEBEZIUM_LIMITS: dict[tuple[str, bool | None], tuple[Level, str, str]] = {
    # (base type, an array: yes, no or either) → what the pinned Debezium (3.1.3, JSON without schemas)
    # does to it
    ("numeric", True): (
        Level.WARNING,
        "Debezium sends null for an array holding NaN or ±Infinity (Connect logs 'Failed to properly"
        " convert data value'), and V2 would hold null",
        _REPAIRED + "; a CHECK constraint in V1 keeps such values out",
    ),
    ("timetz", None): (
        Level.WARNING,
        "Debezium sends a timetz in UTC: V2 gets the same instant at +00, not V1's offset",
        _REPAIRED + "; a V2 column of type time or timestamptz avoids the question",
    ),
    ("varbit", None): (
        Level.WARNING,
        "Debezium sends a bit varying without its length (it is in the schema this connector leaves"
        " out), so leading zeros cannot be told: every non-empty value is dead-lettered",
        "bit(n) (a fixed length) travels exactly; or drop the column (drop: […]) and fill it in V2",
    ),
    ("bit", True): (
        Level.ERROR,
        "Debezium sends null for every bit(n)[] value (its converter fails on the array, Connect logs"
        " 'Failed to properly convert data value'): V2 would hold null",
        "drop it (drop: […]) and fill it in V2 another way, or store the bits in V1 as text[] or bytea",
    ),
    ("varbit", True): (
        Level.ERROR,
        "Debezium sends null for a bit varying[] value (the converter of bit(n)[], which fails on every"
        " array): V2 would hold null",
        "drop it (drop: […]) and fill it in V2 another way, or store the bits in V1 as text[] or bytea",
    ),
    ("tsvector", None): (
        Level.ERROR,
        "Debezium does not send tsvector columns at all: every change of the table would be"
        " dead-lettered (mapped columns missing)",
        "drop it (drop: […]) and compute it in V2 (a generated column or a trigger)",
    ),
}


def _check_debezium_limits(table: TableMapping, src: CatalogTable) -> Iterator[Finding]:
    """V1 values the pinned Debezium cannot send as they are (read off the connector's own events), and
    what a partitioned V1 table does not publish."""
    if src.partitioned:
        yield _warn(
            f"tables.{table.name}.source",
            f"V1 table {table.source} is partitioned: its changes are published as the table's own"
            " (publish_via_partition_root), but a TRUNCATE of one of its partitions is not published at all",
            "truncate the partitioned table, not a partition; after one, `replicator verify` finds the rows"
            " V2 keeps and `replicator repair extra` removes them",
        )
    read = {c for spec in table.columns.values() for c in spec.sources}
    for col in src.columns:
        limit = _DEBEZIUM_LIMITS.get((col.base_type, col.is_array)) or _DEBEZIUM_LIMITS.get(
            (col.base_type, None)
        )
        if col.name in read and limit is not None:
            level, problem, valid = limit
            yield Finding(
                level,
                f"tables.{table.name}.columns",
                f"V1 column {table.source}.{col.name}: {problem}",
                valid,
            )


def _check_v2_columns(table: TableMapping, dst: CatalogTable) -> Iterator[Finding]:
    at = f"tables.{table.name}"
    for name, spec in table.columns.items():
        v2_col = dst.column(name)
        if v2_col is None:
            yield _err(
                f"{at}.columns.{name}",
                f"V2 column {table.target}.{name} does not exist",
                _listing(dst.column_names),
            )
        elif v2_col.is_generated:
            yield _err(f"{at}.columns.{name}", f"V2 column {table.target}.{name} is generated", "remove it")
        elif spec.is_const and spec.const is None and not v2_col.nullable:
            yield _err(f"{at}.columns.{name}.const", f"NULL const for NOT NULL column {table.target}.{name}")
    for col in dst.columns:
        if not col.nullable and not col.has_default and col.name not in table.columns:
            yield _err(
                f"{at}.columns",
                f"V2 column {table.target}.{col.name} is NOT NULL without a default and this mapping "
                "does not feed it",
                f"add columns.{col.name}: <V1 column> or {{const: ...}}",
            )


def _check_types(at: str, spec: ColumnSpec, src: CatalogTable, dst: CatalogColumn) -> Iterator[Finding]:
    inputs = [c for c in (src.column(name) for name in spec.sources) if c is not None]
    if len(inputs) != len(spec.sources):
        return  # a missing V1 column is reported already
    if spec.transform is None:
        if len(inputs) == 1:
            yield from _check_copy(at, inputs[0], dst)
        return
    dst_family = family_of(dst)
    if transforms.is_custom(spec.transform):
        return  # a custom callable declares no types
    transform = transforms.BUILTINS[spec.transform]
    for col in inputs:
        fam = family_of(col)
        if transform.inputs is not None and fam not in transform.inputs:
            yield _err(
                f"{at}.from",
                f"transform {transform.name} does not accept V1 {col.name} of type {col.type_name}",
                f"a V1 column of family {', '.join(sorted(transform.inputs))}",
            )
        elif transform.output is None and not _columns_fit(col, dst):
            yield _err(
                f"{at}.transform",
                f"{transform.name} passes V1 {col.type_name} through, which does not fit V2 {dst.type_name}",
            )
    if transform.output is not None and not compatible(transform.output, dst_family):
        yield _err(
            f"{at}.transform",
            f"transform {transform.name} produces {transform.output}, which does not fit V2 {dst.type_name}",
            f"a V2 column of family {transform.output}",
        )
    if transform.keeps_null and inputs[0].nullable and not dst.nullable:
        yield _warn(at, f"nullable V1 column {inputs[0].name} feeds NOT NULL V2 column {dst.name}")
    if transform.name == "nullif_empty" and not dst.nullable:
        yield _warn(at, f"nullif_empty produces NULL for '' but V2 column {dst.name} is NOT NULL")


def _check_copy(at: str, col: CatalogColumn, dst: CatalogColumn) -> Iterator[Finding]:
    if not _columns_fit(col, dst):
        yield _err(
            at,
            f"V1 {col.type_name} cannot be copied into V2 {dst.type_name}",
            _suggest(family_of(col), family_of(dst)),
        )
    elif _INT_RANK.get(col.base_type, 0) > _INT_RANK.get(dst.base_type, 9):
        yield _warn(at, f"V1 {col.type_name} narrowed into V2 {dst.type_name}: large values will fail")
    if col.nullable and not dst.nullable:
        yield _warn(at, f"nullable V1 column {col.name} copied into NOT NULL V2 column {dst.name}")


def _check_key(table: TableMapping, src: CatalogTable, dst: CatalogTable) -> Iterator[Finding]:
    at = f"tables.{table.name}.key"
    if not dst.primary_key:
        yield _err(
            at, f"V2 table {table.target} has no primary key; upserts need one", "add a primary key in V2"
        )
    elif set(table.key) != set(dst.primary_key):
        yield _err(
            at,
            f"key [{', '.join(table.key)}] differs from the V2 primary key of {table.target}",
            f"[{', '.join(dst.primary_key)}]",
        )
    if not src.primary_key:
        yield _err(
            at,
            f"V1 table {table.source} has no primary key; deletes could not be mapped",
            "add a primary key in V1 (or REPLICA IDENTITY plus a unique key)",
        )
        return
    v1_pk = set(src.primary_key)
    pk_text = ", ".join(src.primary_key)
    for name in table.key:
        spec = table.columns.get(name)
        outside = [c for c in spec.sources if c not in v1_pk] if spec else []
        if outside:
            yield _err(
                f"{at}",
                f"V2 key column {name} derives from {', '.join(outside)}, not in the V1 primary key "
                f"({pk_text}); a delete carries only the primary key, so it could not be mapped",
                f"derive the key from V1 primary-key columns ({pk_text}) or consts",
            )
    unused = [c for c in src.primary_key if c not in table.key_inputs]
    if unused:
        yield _warn(
            at,
            f"V1 primary-key column(s) {', '.join(unused)} do not feed the V2 key: "
            "distinct V1 rows may collide",
            "include every V1 primary-key column in the key",
        )


def _check_unused(mapping: Mapping, v1: Catalog) -> Iterator[Finding]:
    sources = dict.fromkeys(t.source for t in mapping.tables)
    for source in sources:
        src = v1.table(source)
        if src is None:
            continue
        tables = mapping.mappings_for_source(source)
        accounted = set().union(*(t.inputs | set(t.drop) for t in tables))
        unused = [c for c in src.column_names if c not in accounted]
        if unused:
            yield _warn(
                f"tables.{tables[0].name}.drop",
                f"V1 columns of {source} neither mapped nor dropped: {', '.join(unused)}",
                "map them in columns, or list them in drop",
            )


def _check_relationships(mapping: Mapping, v2: Catalog) -> Iterator[Finding]:
    for rel in mapping.relationships:
        at = f"relationships.{rel.name}"
        child, parent = v2.table(rel.table), v2.table(rel.references)
        for field, name, table, cols in (
            ("table", rel.table, child, rel.columns),
            ("references", rel.references, parent, rel.ref_columns),
        ):
            if table is None:
                yield _err(
                    f"{at}.{field}", f"V2 table {v2.schema}.{name} does not exist", _listing(v2.tables)
                )
                continue
            col_field = "columns" if field == "table" else "ref_columns"
            for position, col in enumerate(cols):
                if table.column(col) is None:
                    yield _err(
                        f"{at}.{col_field}[{position}]",
                        f"V2 column {name}.{col} does not exist",
                        _listing(table.column_names),
                    )
        if child is None or parent is None:
            continue
        if mapping.on_orphan_for(rel) is OnOrphan.SET_NULL:
            not_null = [c for c in rel.columns if (cc := child.column(c)) is not None and not cc.nullable]
            if not_null:
                yield _err(
                    f"{at}.on_orphan",
                    f"set_null on NOT NULL V2 column(s) {rel.table}.{', '.join(not_null)}",
                    "dead_letter or drop, or make the columns nullable",
                )
        has_fk = any(
            fk.columns == rel.columns
            and fk.ref_table == rel.references
            and fk.ref_columns == rel.ref_columns
            and fk.ref_schema == v2.schema
            for fk in child.foreign_keys
        )
        if not has_fk:
            yield _warn(
                at,
                f"no V2 foreign key {rel.table}({', '.join(rel.columns)}) → "
                f"{rel.references}({', '.join(rel.ref_columns)}) in the V2 catalog",
                "add the constraint in V2, or check the relationship",
            )


def _check_cycles(mapping: Mapping, v2: Catalog) -> Iterator[Finding]:
    for cycle in mapping.fk_cycles():
        all_not_null = True
        for rel in cycle.relationships:
            child = v2.table(rel.table)
            cols = [child.column(c) if child else None for c in rel.columns]
            if any(c is None or c.nullable for c in cols):
                all_not_null = False
        if all_not_null:
            yield _err(
                f"relationships.{cycle.relationships[0].name}",
                f"FK cycle {cycle} has only NOT NULL edges: no row of it can be inserted first",
                "make the columns of one relationship in the cycle nullable",
            )


# ---------------------------------------------------------------- graph


def format_fk_graph(mapping: Mapping) -> str:
    """A text tree of the V2 FK graph: each parent with its children below it; ``↻`` marks a
    self-reference, ``⟲`` an edge back into the current path (a cycle), ``(see above)`` a repeat."""
    children: dict[str, list[tuple[str, str]]] = {}
    has_parent: set[str] = set()
    tables = list(mapping.parents())
    for rel in mapping.relationships:
        cols = f"{', '.join(rel.columns)} → {', '.join(rel.ref_columns)}"
        children.setdefault(rel.references, []).append((rel.table, f"{rel.name}: {cols}"))
        if rel.table != rel.references:
            has_parent.add(rel.table)
    lines: list[str] = []
    shown: set[str] = set()

    def draw(table: str, label: str, prefix: str, branch: str, path: tuple[str, ...]) -> None:
        if table in path:
            mark = "↻ self-reference" if table == path[-1] else "⟲ cycle"
            lines.append(f"{prefix}{branch}{table}  [{mark}] ({label})")
            return
        repeat = table in shown and bool(children.get(table))
        suffix = f" ({label})" if label else ""
        lines.append(f"{prefix}{branch}{table}{suffix}{' (see above)' if repeat else ''}")
        if repeat:
            return
        shown.add(table)
        kids = sorted(children.get(table, []))
        inner = prefix + ("" if not branch else ("    " if branch.startswith("└") else "│   "))
        for i, (child, child_label) in enumerate(kids):
            draw(child, child_label, inner, "└── " if i == len(kids) - 1 else "├── ", (*path, table))

    for table in sorted(t for t in tables if t not in has_parent):
        draw(table, "", "", "", ())
    for table in sorted(tables):  # tables only reachable through a cycle
        if table not in shown:
            draw(table, "", "", "", ())
    cycles = mapping.fk_cycles()
    if cycles:
        lines.append("")
        lines.append("cycles:")
        lines.extend(f"  {'self-reference' if c.is_self_reference else 'cycle'}: {c}" for c in cycles)
    return "\n".join(lines)
