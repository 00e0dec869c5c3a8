"""The V1→V2 mapping as frozen pydantic models, and ``load_mapping`` which reports every problem at once.

Validation happens in two passes so one mistake does not hide the others:

1. *structural* — pydantic checks shapes, identifiers, enums, durations and filter/column shapes for the
   whole file (every table entry independently);
2. *semantic* — transforms (existence, args, arity, custom import), keys among columns, columns both mapped
   and dropped, unique names and relationships, run over every entry that parsed.

Every problem names the file, the path inside it (``tables[3].columns.status.transform``), what is wrong and
what would be valid. See docs/mapping-format.md.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from replicator.errors import ConfigError
from replicator.mapping import transforms

__all__ = [
    "ColumnSpec",
    "Condition",
    "Defaults",
    "FilterOp",
    "FkCycle",
    "Mapping",
    "MappingError",
    "OnOrphan",
    "Problem",
    "Relationship",
    "TableMapping",
    "load_mapping",
    "parse_mapping",
]

IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_IDENTIFIER_VALID = "lower-case SQL identifier matching ^[a-z_][a-z0-9_]{0,62}$"
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_DURATION_VALID = 'a positive duration: plain seconds or a number with s, m or h suffix ("30s", "5m", "1h")'


# ---------------------------------------------------------------- problems and the error


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the mapping: where (path inside the file), what, and what would be valid."""

    path: str
    problem: str
    valid: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}"
        return f"{text}; valid: {self.valid}" if self.valid else text


class MappingError(ConfigError):
    """The mapping file is invalid. ``problems`` lists every problem found, each with its path."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else Problem("mapping", "invalid")
        super().__init__(first.path, source=source, problem=first.problem, valid=first.valid)
        count = len(self.problems)
        lines = [f"{source}: {count} problem{'s' if count != 1 else ''} in the mapping"]
        lines.extend(f"  {source}: {p}" for p in self.problems)
        self.args = ("\n".join(lines),)


def _fail(problem: str, valid: str | None = None, field: str | None = None) -> PydanticCustomError:
    ctx: dict[str, str] = {"problem": problem}
    if valid:
        ctx["valid"] = valid
    if field:
        ctx["field"] = field
    return PydanticCustomError("mapping", "{problem}", ctx)


# ---------------------------------------------------------------- small types


def _check_identifier(value: str) -> str:
    if not IDENTIFIER_RE.fullmatch(value):  # not match: `$` would accept a trailing line break
        raise _fail(f"{value!r} is not a valid identifier", _IDENTIFIER_VALID)
    return value


Identifier = Annotated[str, AfterValidator(_check_identifier)]


def parse_duration(value: object) -> timedelta:
    """``"30s"``, ``"5m"``, ``"1h"`` or plain seconds (number or numeric string) → a positive timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION_RE.match(value)):
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    else:
        raise _fail(f"cannot parse duration {value!r}", _DURATION_VALID)
    if seconds <= 0:
        raise _fail(f"duration {value!r} is not positive", _DURATION_VALID)
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class OnOrphan(StrEnum):
    """What to do with a child row whose parent never arrives within ``park_timeout``."""

    DEAD_LETTER = "dead_letter"
    SET_NULL = "set_null"
    DROP = "drop"


class FilterOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


_LIST_OPS = frozenset({FilterOp.IN, FilterOp.NOT_IN})
_NULL_OPS = frozenset({FilterOp.IS_NULL, FilterOp.NOT_NULL})


def _not_empty(value: Any) -> Any:
    # Not Field(min_length=1): pydantic would also report an empty list when only an item was invalid.
    if not value:
        raise _fail("must not be empty", "at least one entry")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------- the models


class Defaults(_Model):
    on_orphan: OnOrphan = OnOrphan.DEAD_LETTER
    park_timeout: Duration = timedelta(seconds=30)


class Condition(_Model):
    """One filter condition on the V1 row: ``{column, op, value}``."""

    column: Identifier
    op: FilterOp
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        has_value = "value" in self.model_fields_set
        if self.op in _NULL_OPS and has_value:
            raise _fail(f"op {self.op.value} takes no value", "remove value", field="value")
        if self.op in _LIST_OPS:
            if not isinstance(self.value, list | tuple):
                raise _fail(
                    f"op {self.op.value} needs a list value", "a YAML list, e.g. [1, 2]", field="value"
                )
            object.__setattr__(self, "value", tuple(self.value))
        elif self.op not in _NULL_OPS:
            if not has_value:
                raise _fail(f"op {self.op.value} needs a value", "a scalar value", field="value")
            if isinstance(self.value, list | dict):
                raise _fail(
                    f"op {self.op.value} needs a scalar value", "use op in/not_in for lists", field="value"
                )
        return self


class ColumnSpec(_Model):
    """How one V2 column is fed: copy/rename (``from``), computed (``from`` + ``transform``) or ``const``."""

    from_: tuple[Identifier, ...] = Field(default=(), alias="from")
    const: Any = None
    transform: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"from": data} if isinstance(data, str) else data

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        is_const = "const" in self.model_fields_set
        if is_const and self.from_:
            raise _fail("has both from and const", "either from (a V1 column) or const (a fixed value)")
        if not is_const and not self.from_:
            raise _fail("has neither from nor const", "from: <V1 column> or const: <value>")
        if is_const and (self.transform is not None or self.args):
            raise _fail("const cannot have transform or args", "remove transform/args", field="transform")
        if self.args and self.transform is None:
            raise _fail("args without a transform", "add transform: <name> or remove args", field="args")
        if len(self.from_) > 1 and self.transform is None:
            raise _fail(
                f"several from columns ({', '.join(self.from_)}) need a transform",
                "a variadic transform such as concat_ws or coalesce",
                field="transform",
            )
        return self

    @property
    def is_const(self) -> bool:
        return "const" in self.model_fields_set

    @property
    def sources(self) -> tuple[str, ...]:
        """The V1 columns this V2 column reads (empty for a const)."""
        return self.from_


class TableMapping(_Model):
    """One (V1 table → V2 table) pair."""

    name: Identifier
    source: Identifier
    target: Identifier
    key: tuple[Identifier, ...]
    filter: tuple[Condition, ...] = ()
    columns: dict[Identifier, ColumnSpec]
    drop: tuple[Identifier, ...] = ()

    _key_and_columns_not_empty = field_validator("key", "columns")(_not_empty)

    @cached_property
    def inputs(self) -> frozenset[str]:
        """Every V1 column this mapping reads: column sources and filter columns."""
        used = {c for spec in self.columns.values() for c in spec.sources}
        used.update(cond.column for cond in self.filter)
        return frozenset(used)

    @cached_property
    def key_inputs(self) -> frozenset[str]:
        """The V1 columns the V2 key is computed from."""
        return frozenset(c for k in self.key if k in self.columns for c in self.columns[k].sources)


class Relationship(_Model):
    """A foreign key in V2 terms: ``table(columns)`` references ``references(ref_columns)``."""

    name: Identifier
    table: Identifier
    columns: tuple[Identifier, ...]
    references: Identifier
    ref_columns: tuple[Identifier, ...]
    on_orphan: OnOrphan | None = None
    park_timeout: Duration | None = None

    _columns_not_empty = field_validator("columns", "ref_columns")(_not_empty)


@dataclass(frozen=True, slots=True)
class FkCycle:
    """A foreign-key cycle: relationships child → parent, each one's parent the next one's child."""

    relationships: tuple[Relationship, ...]

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(r.table for r in self.relationships)

    @property
    def is_self_reference(self) -> bool:
        return len(self.relationships) == 1

    def __str__(self) -> str:
        path = " → ".join((*self.tables, self.tables[0]))
        return f"{path} ({', '.join(r.name for r in self.relationships)})"


class Mapping(_Model):
    """The whole mapping file. Helpers answer the questions the engine and the FK layer ask."""

    version: Literal[1]
    source_schema: Identifier = "public"
    target_schema: Identifier = "public"
    defaults: Defaults = Field(default_factory=Defaults)
    tables: tuple[TableMapping, ...]
    relationships: tuple[Relationship, ...] = ()

    _tables_not_empty = field_validator("tables")(_not_empty)

    @model_validator(mode="after")
    def _semantics(self, info: ValidationInfo) -> Mapping:
        if isinstance(info.context, dict) and info.context.get("structural_only"):
            return self
        problems = semantic_problems(list(enumerate(self.tables)), list(enumerate(self.relationships)))
        if problems:
            raise _fail("; ".join(str(p) for p in problems))
        return self

    # -- lookups

    def mappings_for_source(self, v1_table: str) -> tuple[TableMapping, ...]:
        """Table mappings reading ``v1_table``, in file order (several: a split)."""
        return tuple(t for t in self.tables if t.source == v1_table)

    def mappings_for_target(self, v2_table: str) -> tuple[TableMapping, ...]:
        """Table mappings writing ``v2_table``, in file order (several: a merge)."""
        return tuple(t for t in self.tables if t.target == v2_table)

    def relationships_for(self, child_table: str) -> tuple[Relationship, ...]:
        """Relationships where ``child_table`` is the referencing (child) V2 table."""
        return tuple(r for r in self.relationships if r.table == child_table)

    def relationships_to(self, parent_table: str) -> tuple[Relationship, ...]:
        """Relationships where ``parent_table`` is the referenced (parent) V2 table."""
        return tuple(r for r in self.relationships if r.references == parent_table)

    def target_tables(self) -> tuple[str, ...]:
        """Every V2 table some mapping produces, in file order, without duplicates."""
        return tuple(dict.fromkeys(t.target for t in self.tables))

    def parents(self) -> dict[str, tuple[str, ...]]:
        """V2 table → the V2 tables it references (self included for a self-reference), sorted."""
        graph: dict[str, set[str]] = {t: set() for t in self.target_tables()}
        for rel in self.relationships:
            graph.setdefault(rel.table, set()).add(rel.references)
            graph.setdefault(rel.references, set())
        return {t: tuple(sorted(ps)) for t, ps in graph.items()}

    def children(self) -> dict[str, tuple[str, ...]]:
        """V2 table → the V2 tables referencing it, sorted."""
        graph: dict[str, set[str]] = {t: set() for t in self.parents()}
        for rel in self.relationships:
            graph[rel.references].add(rel.table)
        return {t: tuple(sorted(cs)) for t, cs in graph.items()}

    def on_orphan_for(self, rel: Relationship) -> OnOrphan:
        return rel.on_orphan or self.defaults.on_orphan

    def park_timeout_for(self, rel: Relationship) -> timedelta:
        return rel.park_timeout or self.defaults.park_timeout

    def fk_cycles(self) -> list[FkCycle]:
        """Every elementary FK cycle (self-references included), each listed once from its smallest table."""
        out: dict[str, list[Relationship]] = {}
        for rel in self.relationships:
            out.setdefault(rel.table, []).append(rel)
        cycles: list[FkCycle] = []

        def walk(start: str, node: str, path: tuple[Relationship, ...], seen: frozenset[str]) -> None:
            for rel in out.get(node, ()):
                nxt = rel.references
                if nxt == start:
                    cycles.append(FkCycle((*path, rel)))
                elif nxt > start and nxt not in seen:
                    walk(start, nxt, (*path, rel), seen | {nxt})

        for start in sorted(out):
            walk(start, start, (), frozenset({start}))
        return cycles


# ---------------------------------------------------------------- semantic checks


def _column_problems(prefix: str, spec: ColumnSpec) -> Iterator[Problem]:
    if spec.transform is None:
        return
    try:
        transform = transforms.resolve(spec.transform)
    except transforms.UnknownTransformError as exc:
        yield Problem(f"{prefix}.transform", exc.problem, exc.valid)
        return
    if transform.arity is transforms.Arity.ONE and len(spec.sources) != 1:
        yield Problem(
            f"{prefix}.from",
            f"transform {transform.name} takes exactly one column, got {len(spec.sources)}",
            "a single V1 column, or a variadic transform (concat_ws, coalesce)",
        )
    try:
        transform.bind(spec.args)
    except transforms.TransformArgsError as exc:
        yield Problem(f"{prefix}.{exc.field}", f"{transform.name}: {exc.problem}", exc.valid)


def _table_problems(index: int, table: TableMapping) -> Iterator[Problem]:
    prefix = f"tables[{index}]"
    for column, spec in table.columns.items():
        yield from _column_problems(f"{prefix}.columns.{column}", spec)
    columns = ", ".join(table.columns)
    for position, key in enumerate(table.key):
        if key not in table.columns:
            yield Problem(f"{prefix}.key[{position}]", f"key column {key!r} is not in columns", columns)
    if len(set(table.key)) != len(table.key):
        yield Problem(f"{prefix}.key", "key lists a column twice", "each key column once")
    if len(set(table.drop)) != len(table.drop):
        yield Problem(f"{prefix}.drop", "drop lists a column twice", "each V1 column once")
    mapped = {c for spec in table.columns.values() for c in spec.sources}
    for position, dropped in enumerate(table.drop):
        if dropped in mapped:
            yield Problem(
                f"{prefix}.drop[{position}]",
                f"V1 column {dropped!r} is both mapped (in columns) and dropped",
                "remove it from drop, or stop mapping it",
            )


def semantic_problems(
    tables: Sequence[tuple[int, TableMapping]],
    relationships: Sequence[tuple[int, Relationship]],
    *,
    unparsed_targets: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Cross-field problems of the entries that parsed. ``unparsed_targets`` are targets of entries that did
    not parse: relationships may name them, but their columns are not checked."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    columns_by_target: dict[str, set[str]] = {}
    for index, table in tables:
        problems.extend(_table_problems(index, table))
        if table.name in seen:
            problems.append(
                Problem(
                    f"tables[{index}].name",
                    f"table mapping name {table.name!r} already used by tables[{seen[table.name]}]",
                    "a unique name per table mapping",
                )
            )
        seen.setdefault(table.name, index)
        columns_by_target.setdefault(table.target, set()).update(table.columns)

    targets = ", ".join(sorted(set(columns_by_target) | unparsed_targets)) or "(none)"
    rel_seen: dict[str, int] = {}
    for index, rel in relationships:
        prefix = f"relationships[{index}]"
        if rel.name in rel_seen:
            problems.append(
                Problem(
                    f"{prefix}.name",
                    f"relationship name {rel.name!r} already used by relationships[{rel_seen[rel.name]}]",
                    "a unique name per relationship",
                )
            )
        rel_seen.setdefault(rel.name, index)
        if len(rel.columns) != len(rel.ref_columns):
            problems.append(
                Problem(
                    f"{prefix}.ref_columns",
                    f"{len(rel.ref_columns)} ref_columns for {len(rel.columns)} columns",
                    "as many ref_columns as columns, in matching order",
                )
            )
        for field, table_name, cols in (
            ("table", rel.table, rel.columns),
            ("references", rel.references, rel.ref_columns),
        ):
            if table_name in unparsed_targets and table_name not in columns_by_target:
                continue
            if table_name not in columns_by_target:
                problems.append(
                    Problem(
                        f"{prefix}.{field}", f"no table mapping produces V2 table {table_name!r}", targets
                    )
                )
                continue
            known = columns_by_target[table_name]
            col_field = "columns" if field == "table" else "ref_columns"
            for position, col in enumerate(cols):
                if col not in known:
                    problems.append(
                        Problem(
                            f"{prefix}.{col_field}[{position}]",
                            f"column {col!r} is not among the columns mapped into {table_name!r}",
                            ", ".join(sorted(known)),
                        )
                    )
    return problems


# ---------------------------------------------------------------- loading


def _model_at(parent: Sequence[str | int]) -> type[BaseModel]:
    """The model whose keys live at ``parent`` (to list the allowed keys when one is unknown)."""
    names = [part for part in parent if isinstance(part, str)]
    if not names:
        return Mapping
    if names[0] == "defaults":
        return Defaults
    if names[0] == "relationships":
        return Relationship
    if len(names) >= 2 and names[1] == "filter":
        return Condition
    if len(names) >= 2 and names[1] == "columns":
        return ColumnSpec
    return TableMapping


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(info.alias or name for name, info in model.model_fields.items())


def _format_loc(loc: Sequence[str | int], field: str | None = None) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            path += f".{'from' if part == 'from_' else part}" if path else part
    if field:
        path = f"{path}.{field}" if path else field
    return path or "(top level)"


def _structural_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        kind = err["type"]
        valid: str | None
        if kind == "mapping":
            problem, valid = str(ctx["problem"]), ctx.get("valid")
        elif kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            problem, valid = f"unknown key {loc[-1]!r}", _allowed_keys(model)
        elif kind == "enum":
            problem, valid = f"invalid value {err['input']!r}", str(ctx.get("expected"))
        elif kind == "missing":
            problem, valid = "required key is missing", None
        elif kind == "model_type" and "columns" in loc:
            problem = f"invalid column spec {err['input']!r}"
            valid = "a V1 column name, {from: ..., transform: ..., args: ...}, or {const: ...}"
        else:
            problem, valid = f"{err['msg']} (got {err['input']!r})", None
        problems.append(Problem(_format_loc(loc, ctx.get("field")), problem, valid))
    return problems


def _unparsed_column_problems(index: int, raw_columns: object) -> Iterator[Problem]:
    """Transform problems of the columns of a table entry that did not parse as a whole."""
    if not isinstance(raw_columns, dict):
        return
    for name, raw_spec in raw_columns.items():
        try:
            spec = ColumnSpec.model_validate(raw_spec)
        except ValidationError:
            continue  # already reported by the structural pass
        yield from _column_problems(f"tables[{index}].columns.{name}", spec)


def parse_mapping(data: object, source: str = "<mapping>") -> Mapping:
    """Validate an already-parsed YAML document; raise ``MappingError`` listing every problem."""
    if not isinstance(data, dict):
        raise MappingError(
            source, [Problem("(top level)", "not a YAML mapping", "version: 1, tables: [...]")]
        )
    problems: list[Problem] = []
    try:
        Mapping.model_validate(data, context={"structural_only": True})
    except ValidationError as exc:
        problems.extend(_structural_problems(exc))

    parsed_tables: list[tuple[int, TableMapping]] = []
    unparsed_targets: set[str] = set()
    raw_tables = data.get("tables")
    for index, item in enumerate(raw_tables if isinstance(raw_tables, list) else []):
        try:
            parsed_tables.append((index, TableMapping.model_validate(item)))
        except ValidationError:
            if isinstance(item, dict):
                if isinstance(item.get("target"), str):
                    unparsed_targets.add(item["target"])
                problems.extend(_unparsed_column_problems(index, item.get("columns")))
    parsed_rels: list[tuple[int, Relationship]] = []
    raw_rels = data.get("relationships")
    for index, item in enumerate(raw_rels if isinstance(raw_rels, list) else []):
        with contextlib.suppress(ValidationError):  # its structural problems are already listed
            parsed_rels.append((index, Relationship.model_validate(item)))
    problems.extend(
        semantic_problems(parsed_tables, parsed_rels, unparsed_targets=frozenset(unparsed_targets))
    )
    if problems:
        raise MappingError(source, problems)
    return Mapping.model_validate(data)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping YAML file; raise ``MappingError`` listing every problem found."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            source, [Problem("(file)", f"cannot read: {exc.strerror}", "a readable file")]
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        reason = getattr(exc, "problem", None) or "cannot parse"
        raise MappingError(source, [Problem(where, f"not valid YAML: {reason}", "YAML")]) from None
    return parse_mapping(data, source)
