"""The statements verification runs, as data: functions returning ``(sql, params)``. Pure.

Key ranges use row comparison (``(a, b) > (%s, %s)``, PostgreSQL's lexicographic order, as Python
orders tuples); text key columns compare under ``COLLATE "C"`` so both databases and Python agree on
the order whatever the databases' collations.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from replicator.verify.chunks import Chunk, Key

Query = sql.SQL | sql.Composed

XMIN = "__replicator_xmin"
"""Alias of the V1 row version (``xmin``) selected with every V1 row: a read's stamp."""

__all__ = [
    "CURRENT_LSN",
    "V2_COLUMNS",
    "XMIN",
    "Query",
    "lookup_sql",
    "range_sql",
    "sample_sql",
    "select_range_sql",
    "versions_sql",
]

# The V1 position a read is made at: the first statement of a REPEATABLE READ transaction, so the
# snapshot and the position are taken together. As a number, comparable with row_version.commit_lsn.
CURRENT_LSN = "SELECT pg_current_wal_lsn()::text, (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"

V2_COLUMNS = """
SELECT column_name,
       CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END,
       column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER'
FROM information_schema.columns
WHERE table_schema = %s AND table_name = %s
"""

VERSIONS = "SELECT pk, GREATEST(commit_lsn, lsn) FROM replicator.row_version WHERE tbl = %s AND pk = ANY(%s)"
PARKED = "SELECT DISTINCT pk FROM replicator.parked WHERE tbl = %s AND pk = ANY(%s)"

WRITE_RESULT = """
INSERT INTO replicator.verification
    (tbl, status, rows_expected, rows_actual, missing, extra, different, sample, checked_at, v1_lsn)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, clock_timestamp(), %s)
ON CONFLICT (tbl) DO UPDATE SET
    status = EXCLUDED.status, rows_expected = EXCLUDED.rows_expected, rows_actual = EXCLUDED.rows_actual,
    missing = EXCLUDED.missing, extra = EXCLUDED.extra, different = EXCLUDED.different,
    sample = EXCLUDED.sample, checked_at = EXCLUDED.checked_at, v1_lsn = EXCLUDED.v1_lsn
"""

SLOT_PASSED = (
    "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint >= %s "
    "FROM pg_replication_slots WHERE slot_name = %s"
)


def _columns(columns: Sequence[str], text: frozenset[str], alias: str = "") -> sql.Composable:
    parts = []
    for name in columns:
        ident = sql.Identifier(name)
        column = sql.SQL("{}.{}").format(sql.Identifier(alias), ident) if alias else ident
        parts.append(sql.SQL('{} COLLATE "C"').format(column) if name in text else column)
    joined = sql.SQL(", ").join(parts)
    return joined if len(parts) == 1 else sql.SQL("({})").format(joined)


def _star() -> sql.Composed:
    return sql.SQL("xmin::text AS {}, *").format(sql.Identifier(XMIN))


def _values(n: int) -> sql.Composable:
    marks = sql.SQL(", ").join([sql.Placeholder()] * n)
    return marks if n == 1 else sql.SQL("({})").format(marks)


def range_sql(
    columns: Sequence[str], chunk: Chunk, *, text: frozenset[str] = frozenset()
) -> tuple[Query, list[object]]:
    """``lower < (columns) <= upper`` for a chunk (``TRUE`` for an unbounded one)."""
    parts: list[sql.Composable] = []
    params: list[object] = []
    key = _columns(columns, text)
    if chunk.lower is not None:
        parts.append(sql.SQL("{} > {}").format(key, _values(len(columns))))
        params.extend(chunk.lower)
    if chunk.upper is not None:
        parts.append(sql.SQL("{} <= {}").format(key, _values(len(columns))))
        params.extend(chunk.upper)
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")), params


def select_range_sql(
    schema: str,
    table: str,
    select: Sequence[str] | None,
    key: Sequence[str],
    chunk: Chunk,
    *,
    text: frozenset[str] = frozenset(),
) -> tuple[Query, list[object]]:
    """The rows of ``table`` whose ``key`` columns fall in ``chunk`` (``select`` None: every column,
    with the row version as ``XMIN``)."""
    where, params = range_sql(key, chunk, text=text)
    what = _star() if select is None else sql.SQL(", ").join(map(sql.Identifier, select))
    statement = sql.SQL("SELECT {} FROM {}.{} WHERE {}").format(
        what, sql.Identifier(schema), sql.Identifier(table), where
    )
    return statement, params


def sample_sql(
    schema: str, table: str, key: Sequence[str], every: int, *, text: frozenset[str] = frozenset()
) -> tuple[Query, list[object]]:
    """Every ``every``-th key of ``table`` in key order: chunk boundaries."""
    order = _columns(key, text)
    keys = sql.SQL(", ").join(map(sql.Identifier, key))
    statement = sql.SQL(
        "SELECT {keys} FROM (SELECT {keys}, row_number() OVER (ORDER BY {order}) AS rn "
        "FROM {schema}.{table}) s WHERE rn %% {every} = 0 ORDER BY {order}"
    ).format(
        keys=keys,
        order=order,
        schema=sql.Identifier(schema),
        table=sql.Identifier(table),
        every=sql.Literal(every),
    )
    return statement, []


def lookup_sql(
    schema: str, table: str, key: Sequence[str], keys: Sequence[Key]
) -> tuple[Query, list[object]]:
    """Every column (and ``XMIN``) of the rows of ``table`` with one of ``keys`` (in ``key`` order)."""
    if len(key) == 1:
        where = sql.SQL("{} = ANY({})").format(sql.Identifier(key[0]), sql.Placeholder())
        params: list[object] = [[k[0] for k in keys]]
    else:
        where = sql.SQL("{} IN ({})").format(
            _columns(key, frozenset()), sql.SQL(", ").join([_values(len(key))] * len(keys))
        )
        params = [v for k in keys for v in k]
    statement = sql.SQL("SELECT {} FROM {}.{} WHERE {}").format(
        _star(), sql.Identifier(schema), sql.Identifier(table), where
    )
    return statement, params


def versions_sql(table: str, keys: Sequence[str]) -> list[tuple[str, list[object]]]:
    """Row versions and parked changes of some V2 rows (by canonical key)."""
    return [(VERSIONS, [table, list(keys)]), (PARKED, [table, list(keys)])]
