"""Dashboard calculations (``schemas/calculations.yaml``): validated models, and running each pair.

Loading validates the whole file and raises ``CalculationsError`` naming every bad field by its path in the
file (``calculations[3].tolerance.avg_price``), the file, and what would be valid. Running executes each
query in a read-only transaction with a statement timeout and compares the results with
``replicator.parity.compare`` — exact, tolerances only where the YAML declares one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import psycopg
import yaml
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from replicator.errors import ConfigError
from replicator.parity.compare import RowsVerdict, compare_rows

DEFAULT_CALCULATIONS = Path(__file__).resolve().parents[2] / "schemas" / "calculations.yaml"
STATEMENT_TIMEOUT_MS = 60_000
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_READ_RE = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_NAME_VALID = "lower-case identifier matching ^[a-z_][a-z0-9_]{0,62}$"


class CalculationsError(ConfigError):
    """The calculations file is invalid; ``problems`` lists every ``(path, problem, valid)``."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str, str | None]]) -> None:
        self.problems = tuple(problems)
        path, problem, valid = self.problems[0]
        super().__init__(path, source=source, problem=problem, valid=valid)
        if len(self.problems) > 1:
            lines = [f"{source}: {len(self.problems)} problems in the calculations file"]
            lines += [f"  {p}: {msg}" + (f"; valid: {v}" if v else "") for p, msg, v in self.problems]
            self.args = ("\n".join(lines),)


class Calculation(BaseModel):
    """One dashboard calculation written for V1 and for V2."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    dashboard: str = ""
    description: str = ""
    rounding: dict[str, int] = Field(default_factory=dict)
    tolerance: dict[str, float] = Field(default_factory=dict)
    v1: str
    v2: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a valid name; valid: {_NAME_VALID}")
        return value

    @field_validator("v1", "v2")
    @classmethod
    def _read_only_query(cls, value: str) -> str:
        if not _READ_RE.match(value):
            raise ValueError("must be one read-only query starting with SELECT or WITH")
        if ";" in value.strip().rstrip(";"):
            raise ValueError("must be a single statement (no ';' inside)")
        return value.strip().rstrip(";")

    @field_validator("rounding")
    @classmethod
    def _rounding(cls, value: dict[str, int]) -> dict[str, int]:
        for column, places in value.items():
            if places < 0:
                raise ValueError(f"{column}: decimal places must be >= 0, got {places}")
        return value

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: dict[str, float]) -> dict[str, float]:
        for column, amount in value.items():
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"{column}: tolerance must be a finite number >= 0, got {amount}")
        return value

    def tolerances(self) -> dict[str, Decimal]:
        return {column: Decimal(str(amount)) for column, amount in self.tolerance.items()}


class CalculationsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    timezone: str = "UTC"
    calculations: tuple[Calculation, ...]

    @model_validator(mode="after")
    def _unique_and_present(self) -> CalculationsFile:
        if not self.calculations:
            raise ValueError("calculations: must list at least one calculation")
        seen: set[str] = set()
        for index, calc in enumerate(self.calculations):
            if calc.name in seen:
                raise ValueError(f"calculations[{index}].name: duplicate name {calc.name!r}")
            seen.add(calc.name)
        return self


def _loc(loc: Sequence[str | int]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _problems(exc: ValidationError) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    for err in exc.errors(include_url=False):
        path = _loc(err["loc"])
        kind = err["type"]
        message = str(err["msg"]).removeprefix("Value error, ")
        valid: str | None = None
        if kind == "missing":
            message = "required key is missing"
        elif kind == "extra_forbidden":
            message = f"unknown key {err['loc'][-1]!r}"
            valid = "name, dashboard, description, rounding, tolerance, v1, v2 (top: version, timezone)"
        elif kind == "literal_error":
            valid = "version: 1"
        elif "; valid: " in message:
            message, valid = message.split("; valid: ", 1)
        if path == "(top level)" and message.startswith(("calculations", "calculations[")):
            path, _, message = message.partition(": ")
        out.append((path, message, valid))
    return out


def parse_calculations(data: object, source: str = "<calculations>") -> CalculationsFile:
    if not isinstance(data, dict):
        raise CalculationsError(
            source, [("(top level)", "not a YAML mapping", "version: 1, calculations: [...]")]
        )
    try:
        return CalculationsFile.model_validate(data)
    except ValidationError as exc:
        raise CalculationsError(source, _problems(exc)) from None


def load_calculations(path: str | Path = DEFAULT_CALCULATIONS) -> CalculationsFile:
    """Read and validate a calculations file; ``CalculationsError`` names every bad field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CalculationsError(
            source, [("(file)", f"cannot read: {exc.strerror}", "a readable file")]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise CalculationsError(
            source, [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}", None)]
        ) from None
    return parse_calculations(data, source)


# ---------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class CalculationResult:
    name: str
    dashboard: str
    verdict: RowsVerdict | None
    error: str | None = None  # a query failed (on which side and the database's error class)

    @property
    def passed(self) -> bool:
        return self.error is None and self.verdict is not None and self.verdict.passed

    @property
    def detail(self) -> str:
        if self.error is not None:
            return self.error
        assert self.verdict is not None
        return self.verdict.problem or f"{self.verdict.rows_v1} rows identical"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "dashboard": self.dashboard,
            "status": "pass" if self.passed else "fail",
            "detail": self.detail,
            "error": self.error,
        }
        if self.verdict is not None:
            out.update(self.verdict.as_dict())
        return out


def _query(
    conn: psycopg.Connection[Any], text: str, timezone: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(STATEMENT_TIMEOUT_MS)))
        conn.execute("SELECT set_config('TimeZone', %s, true)", [timezone])
        cur = conn.execute(text)  # trusted, validated file: single read-only SELECT/WITH
        columns = [d.name for d in cur.description or ()]
        return columns, cur.fetchall()


def run_calculation(
    calc: Calculation, v1: psycopg.Connection[Any], v2: psycopg.Connection[Any], *, timezone: str = "UTC"
) -> CalculationResult:
    """Run one pair and compare; a failing query is a failed calculation (its error class, no values)."""
    results = []
    for side, conn, text in (("V1", v1, calc.v1), ("V2", v2, calc.v2)):
        try:
            results.append(_query(conn, text, timezone))
        except psycopg.Error as exc:
            # The SQLSTATE and the error class only: a server message can quote a value.
            error = f"{side} query failed: {type(exc).__name__} (SQLSTATE {exc.sqlstate or '?'})"
            return CalculationResult(calc.name, calc.dashboard, None, error)
    (c1, r1), (c2, r2) = results
    return CalculationResult(calc.name, calc.dashboard, compare_rows(c1, r1, c2, r2, calc.tolerances()))


def run_calculations(
    calcs: CalculationsFile,
    v1: psycopg.Connection[Any],
    v2: psycopg.Connection[Any],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[CalculationResult]:
    out = []
    for done, calc in enumerate(calcs.calculations, 1):
        out.append(run_calculation(calc, v1, v2, timezone=calcs.timezone))
        if progress is not None:
            progress("calculations", done, len(calcs.calculations))
    return out
