"""The mapping expressed as SQL on V1, where it can be. Pure: returns psycopg ``sql`` objects.

Used to scan V1 for orphans (and, later, to checksum V1 through the mapping inside PostgreSQL).
Filter semantics match the Python engine: ``ne`` keeps NULLs (``IS DISTINCT FROM``), comparisons
against NULL are false.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from replicator.mapping.model import Condition, FilterOp, TableMapping

_COMPARISONS = {
    FilterOp.EQ: "=",
    FilterOp.LT: "<",
    FilterOp.LE: "<=",
    FilterOp.GT: ">",
    FilterOp.GE: ">=",
}


def condition_sql(alias: str, condition: Condition) -> tuple[sql.Composable, list[object]]:
    column = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(condition.column))
    op = condition.op
    if op is FilterOp.IS_NULL:
        return sql.SQL("{} IS NULL").format(column), []
    if op is FilterOp.NOT_NULL:
        return sql.SQL("{} IS NOT NULL").format(column), []
    if op is FilterOp.NE:
        return sql.SQL("{} IS DISTINCT FROM {}").format(column, sql.Placeholder()), [condition.value]
    if op is FilterOp.IN:
        return sql.SQL("{} = ANY({})").format(column, sql.Placeholder()), [list(condition.value)]
    if op is FilterOp.NOT_IN:
        return (
            sql.SQL("({0} IS NULL OR NOT ({0} = ANY({1})))").format(column, sql.Placeholder()),
            [list(condition.value)],
        )
    return sql.SQL("{} {} {}").format(column, sql.SQL(_COMPARISONS[op]), sql.Placeholder()), [condition.value]


def filter_sql(alias: str, conditions: Sequence[Condition]) -> tuple[sql.Composable, list[object]]:
    """``TRUE`` or the AND of the conditions, with their parameters."""
    if not conditions:
        return sql.SQL("TRUE"), []
    parts, params = [], []
    for condition in conditions:
        part, values = condition_sql(alias, condition)
        parts.append(part)
        params.extend(values)
    return sql.SQL(" AND ").join(parts), params


def copied_column(mapping: TableMapping, v2_column: str) -> str | None:
    """The V1 column a V2 column is a plain copy of (no transform), else None."""
    spec = mapping.columns.get(v2_column)
    if spec is None or spec.transform is not None or len(spec.sources) != 1:
        return None
    return spec.sources[0]
