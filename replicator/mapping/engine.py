"""The mapping engine: one decoded V1 change → the V2 writes it implies. Pure: no I/O, no clock.

Semantics per Debezium op (see ``MappingEngine.apply``):

* ``c`` / ``r`` — an ``Upsert`` per table mapping of ``row.table`` whose filter passes on ``after``;
* ``u`` — nothing when ``before`` is complete and no input of the mapping changed; else ``Upsert`` if the
  filter passes (preceded by ``Delete(old key)`` when the V2 key changed), ``Delete`` if it no longer does;
* ``d`` — a ``Delete`` per table mapping whose filter passes on ``before`` or cannot be evaluated there
  (``before`` may hold only the key columns under REPLICA IDENTITY DEFAULT).

Values of unchanged TOASTed columns (``SourceRow.unavailable``) are taken from ``before`` when it has
them; otherwise the V2 columns fed by them are left out of the upsert and listed in ``Upsert.missing``.

Filter semantics are Python's, not SQL's: ``None`` equals only ``None`` (so ``ne true`` keeps NULL rows),
``lt/le/gt/ge`` against ``None`` are false.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from replicator.errors import TerminalError
from replicator.mapping import model, transforms
from replicator.mapping.transforms import BoundTransform, TransformError, TransformFailure

__all__ = [
    "Delete",
    "FilterError",
    "MappingEngine",
    "Op",
    "RowShapeError",
    "SourceRow",
    "TransformError",
    "Upsert",
    "V2Key",
    "Write",
]


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class SourceRow:
    """A decoded V1 change. ``unavailable`` names columns Debezium did not send (unchanged TOAST)."""

    table: str
    op: Op
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
    unavailable: frozenset[str] = frozenset()


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class Upsert:
    """Insert-or-update one V2 row. ``values`` include the key; ``missing`` columns must be left untouched."""

    table: str
    mapping: str
    key: tuple[object, ...]
    values: dict[str, object]
    missing: frozenset[str]


@dataclass(slots=True)  # per row, not frozen: see replicator.pipeline
class Delete:
    table: str
    mapping: str
    key: tuple[object, ...]


Write = Upsert | Delete


@dataclass(frozen=True, slots=True)
class V2Key:
    """Where a V1 row lands: V2 table, table mapping, key values (in ``TableMapping.key`` order)."""

    table: str
    mapping: str
    key: tuple[object, ...]


class RowShapeError(TerminalError):
    """The V1 row lacks columns the mapping needs. Names table, mapping and columns — never values."""

    def __init__(self, *, table: str, mapping: str, columns: frozenset[str], reason: str) -> None:
        self.table = table
        self.mapping = mapping
        self.columns = columns
        self.reason = reason
        names = ", ".join(sorted(columns))
        super().__init__(f"V1 table {table!r}, table mapping {mapping!r}: {reason}: {names}")


class FilterError(TerminalError):
    """A filter condition could not compare the row value (types differ). Carries the type name only."""

    def __init__(self, *, mapping: str, column: str, op: str, value_type: str) -> None:
        self.mapping = mapping
        self.column = column
        self.op = op
        self.value_type = value_type
        super().__init__(
            f"table mapping {mapping!r}: filter {column} {op} cannot compare a value of type {value_type}"
        )


_COMPARE: dict[model.FilterOp, Callable[[Any, Any], object]] = {
    model.FilterOp.EQ: operator.eq,
    model.FilterOp.NE: operator.ne,
    model.FilterOp.LT: operator.lt,
    model.FilterOp.LE: operator.le,
    model.FilterOp.GT: operator.gt,
    model.FilterOp.GE: operator.ge,
}
_ORDERING = frozenset({model.FilterOp.LT, model.FilterOp.LE, model.FilterOp.GT, model.FilterOp.GE})


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    sources: tuple[str, ...]
    const: object
    is_const: bool
    transform: str | None
    fn: BoundTransform | None
    one: Callable[[object], object] | None  # a one-value transform's function (``transforms.Single``)


@dataclass(frozen=True, slots=True)
class _Compiled:
    table: model.TableMapping
    columns: tuple[_Column, ...]
    key_columns: tuple[_Column, ...]
    sources: frozenset[str]  # every V1 column some V2 column reads
    # The common case, every input present: the V2 columns copied as they are (their names, and their
    # V1 columns' values read in one C call), then the ones to compute, then the key read the same way.
    copied: tuple[str, ...]
    read_copied: Callable[[Mapping[str, object]], Sequence[object]]
    computed: tuple[_Column, ...]
    read_key: Callable[[Mapping[str, object]], Sequence[object]]


def _reader(names: Sequence[str]) -> Callable[[Mapping[str, object]], Sequence[object]]:
    """``values → tuple of values[name] for name in names``, in C (``itemgetter`` of one name returns
    the bare value, so that case is wrapped)."""
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda values: (get(values),)
    if not names:
        return lambda values: ()
    return operator.itemgetter(*names)


def _compile(table: model.TableMapping) -> _Compiled:
    columns = []
    for name, spec in table.columns.items():
        fn = transforms.resolve(spec.transform).bind(spec.args) if spec.transform else None
        one = fn.one if isinstance(fn, transforms.Single) else None
        columns.append(_Column(name, spec.sources, spec.const, spec.is_const, spec.transform, fn, one))
    by_name = {c.name: c for c in columns}
    copied = [c for c in columns if c.fn is None and not c.is_const]
    return _Compiled(
        table,
        tuple(columns),
        tuple(by_name[k] for k in table.key),
        frozenset(s for c in columns for s in c.sources),
        tuple(c.name for c in copied),
        _reader([c.sources[0] for c in copied]),
        tuple(c for c in columns if c.fn is not None or c.is_const),
        _reader(table.key),
    )


class MappingEngine:
    """Applies a validated ``Mapping`` to V1 rows. Stateless after construction; safe to share."""

    def __init__(self, mapping: model.Mapping) -> None:
        self.mapping = mapping
        compiled: dict[str, list[_Compiled]] = {}
        for table in mapping.tables:  # file order is output order
            compiled.setdefault(table.source, []).append(_compile(table))
        self._by_source = {source: tuple(items) for source, items in compiled.items()}

    def apply(self, row: SourceRow) -> list[Write]:
        """The V2 writes for one V1 change, in mapping file order; ``[]`` for unmapped tables."""
        writes: list[Write] = []
        for compiled in self._by_source.get(row.table, ()):
            if row.op is Op.DELETE:
                writes.extend(self._delete(compiled, row))
            elif row.op is Op.UPDATE:
                writes.extend(self._update(compiled, row))
            else:
                writes.extend(self._insert(compiled, row))
        return writes

    def keys(self, table: str, values: Mapping[str, object], *, respect_filter: bool = False) -> list[V2Key]:
        """The V2 key(s) of a V1 row of ``table`` (one per table mapping; with ``respect_filter``, only
        mappings whose filter passes or cannot be evaluated). Raises ``RowShapeError`` if a key input is
        missing."""
        out = []
        for compiled in self._by_source.get(table, ()):
            if respect_filter and _filter(compiled.table, values) is False:
                continue
            out.append(V2Key(compiled.table.target, compiled.table.name, _key(compiled, table, values)))
        return out

    # -- per op

    def _insert(self, compiled: _Compiled, row: SourceRow) -> list[Write]:
        after = _require(row.after, row, compiled, "after")
        values = _effective_after(row, after)
        if not _filter_required(compiled, row, values):
            return []
        return [_upsert(compiled, row, values)]

    def _update(self, compiled: _Compiled, row: SourceRow) -> list[Write]:
        table = compiled.table
        after = _require(row.after, row, compiled, "after")
        values = _effective_after(row, after)
        before = row.before
        if before is not None and table.inputs <= before.keys() and _unchanged(table.inputs, before, values):
            return []
        old_key = None
        if before is not None and table.key_inputs <= before.keys():
            old_key = _key(compiled, row.table, before)
        if _filter_required(compiled, row, values):
            upsert = _upsert(compiled, row, values)
            if old_key is not None and old_key != upsert.key:
                return [Delete(table.target, table.name, old_key), upsert]
            return [upsert]
        new_key = _key(compiled, row.table, values)
        deletes: list[Write] = []
        if old_key is not None and old_key != new_key:
            deletes.append(Delete(table.target, table.name, old_key))
        deletes.append(Delete(table.target, table.name, new_key))
        return deletes

    def _delete(self, compiled: _Compiled, row: SourceRow) -> list[Write]:
        table = compiled.table
        before = _require(row.before, row, compiled, "before")
        if _filter(table, before) is False:
            return []  # the row never reached V2
        missing = table.key_inputs - before.keys()
        if missing:
            raise RowShapeError(
                table=row.table,
                mapping=table.name,
                columns=missing,
                reason="delete without the key columns in before (check REPLICA IDENTITY)",
            )
        return [Delete(table.target, table.name, _key(compiled, row.table, before))]


# ---------------------------------------------------------------- helpers


def _require(
    image: Mapping[str, object] | None, row: SourceRow, compiled: _Compiled, name: str
) -> Mapping[str, object]:
    if image is None:
        raise RowShapeError(
            table=row.table,
            mapping=compiled.table.name,
            columns=frozenset({name}),
            reason=f"op {row.op.value} without a row image",
        )
    return image


def _effective_after(row: SourceRow, after: Mapping[str, object]) -> Mapping[str, object]:
    """``after`` plus unchanged TOASTed values recovered from ``before`` (unchanged means the old value)."""
    if not row.unavailable or row.before is None:
        return after
    recovered = {c: row.before[c] for c in row.unavailable if c in row.before and c not in after}
    return {**after, **recovered} if recovered else after


def _unchanged(inputs: frozenset[str], before: Mapping[str, object], after: Mapping[str, object]) -> bool:
    # An input absent from ``after`` is an unavailable (unchanged TOASTed) value.
    return all(c not in after or _same(before[c], after[c]) for c in inputs)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _filter(table: model.TableMapping, values: Mapping[str, object]) -> bool | None:
    """True/False, or None when a filter column is absent from ``values`` (cannot be evaluated)."""
    result: bool | None = True
    for cond in table.filter:
        if cond.column not in values:
            result = None
            continue
        if not _holds(table.name, cond, values[cond.column]):
            return False
    return result


def _holds(mapping: str, cond: model.Condition, value: object) -> bool:
    op = cond.op
    if op is model.FilterOp.IS_NULL:
        return value is None
    if op is model.FilterOp.NOT_NULL:
        return value is not None
    if op is model.FilterOp.IN:
        return value in cond.value
    if op is model.FilterOp.NOT_IN:
        return value not in cond.value
    if op in _ORDERING and (value is None or cond.value is None):
        return False
    try:
        return bool(_COMPARE[op](value, cond.value))
    except TypeError:
        raise FilterError(
            mapping=mapping, column=cond.column, op=op.value, value_type=type(value).__name__
        ) from None


def _filter_required(compiled: _Compiled, row: SourceRow, values: Mapping[str, object]) -> bool:
    result = _filter(compiled.table, values)
    if result is None:
        absent = frozenset(c.column for c in compiled.table.filter if c.column not in values)
        raise RowShapeError(
            table=row.table,
            mapping=compiled.table.name,
            columns=absent,
            reason="filter columns absent or unavailable (set REPLICA IDENTITY FULL to get them)",
        )
    return result


def _compute(compiled: _Compiled, column: _Column, values: Mapping[str, object]) -> object:
    if column.is_const:
        return column.const
    if column.fn is None:
        return values[column.sources[0]]
    try:
        if column.one is not None:
            value = values[column.sources[0]]
            return None if value is None else column.one(value)
        return column.fn(tuple([values[c] for c in column.sources]))
    except TransformFailure as exc:
        raise TransformError(
            mapping=compiled.table.name,
            column=column.name,
            transform=column.transform or "",
            reason=exc.reason,
        ) from None


def _key(compiled: _Compiled, v1_table: str, values: Mapping[str, object]) -> tuple[object, ...]:
    missing = compiled.table.key_inputs - values.keys()
    if missing:
        raise RowShapeError(
            table=v1_table, mapping=compiled.table.name, columns=missing, reason="key columns missing"
        )
    return tuple(_compute(compiled, column, values) for column in compiled.key_columns)


def _upsert(compiled: _Compiled, row: SourceRow, values: Mapping[str, object]) -> Upsert:
    table = compiled.table
    if compiled.sources <= values.keys():  # every input came (the common case): no per-column checks
        full = dict(zip(compiled.copied, compiled.read_copied(values), strict=True))
        for column in compiled.computed:
            full[column.name] = _compute(compiled, column, values)
        return Upsert(table.target, table.name, tuple(compiled.read_key(full)), full, frozenset())
    out: dict[str, object] = {}
    missing: set[str] = set()
    absent: set[str] = set()
    for column in compiled.columns:
        gone = [c for c in column.sources if c not in values]
        if gone:
            unavailable = [c for c in gone if c in row.unavailable]
            if len(unavailable) == len(gone) and column.name not in table.key:
                missing.add(column.name)
            else:
                absent.update(gone)
            continue
        out[column.name] = _compute(compiled, column, values)
    if absent:
        raise RowShapeError(
            table=row.table, mapping=table.name, columns=frozenset(absent), reason="mapped columns missing"
        )
    key = tuple(out[k] for k in table.key)
    return Upsert(table.target, table.name, key, out, frozenset(missing))
