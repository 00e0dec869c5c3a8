"""Named transforms: how one V2 column is computed from one or several V1 column values.

Each transform declares its arity, the PostgreSQL type families it accepts and the family it produces
(``check.py`` compares those with the catalogs), and validates its ``args`` once, at load time, returning
a bound function that the engine calls per row. Bound functions take the tuple of input values.

``None`` in gives ``None`` out, except for the variadic ``concat_ws`` / ``coalesce`` (which skip ``None``)
and ``nullif_empty`` (which produces it). Custom transforms are named by dotted path ``pkg.mod.func``
and are called as ``func(*values, **args)``; a single-input custom transform is not called for ``None``
unless the function has an attribute ``handles_none = True``.

Failures never carry the row value — only its Python type name — because error messages end up in logs
and dead-letter headers.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import orjson

from replicator.errors import TerminalError

__all__ = [
    "BUILTINS",
    "Arity",
    "BoundTransform",
    "Transform",
    "TransformArgsError",
    "TransformError",
    "TransformFailure",
    "TypeFamily",
    "UnknownTransformError",
    "is_custom",
    "resolve",
]

BoundTransform = Callable[[tuple[object, ...]], object]


class Arity(StrEnum):
    """How many ``from`` columns a transform takes."""

    ONE = "one"
    MANY = "many"  # one or more (variadic)


class TypeFamily(StrEnum):
    """PostgreSQL type families, coarse enough to say whether a value fits a column."""

    INTEGER = "integer"
    NUMERIC = "numeric"
    TEXT = "text"
    ENUM = "enum"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    DATE = "date"
    TIME = "time"
    INTERVAL = "interval"
    JSON = "json"
    UUID = "uuid"
    BYTEA = "bytea"
    ARRAY = "array"
    OTHER = "other"


class TransformError(TerminalError):
    """A transform rejected a row value. Carries where it happened and why — never the value itself."""

    def __init__(self, *, mapping: str, column: str, transform: str, reason: str) -> None:
        self.mapping = mapping
        self.column = column
        self.transform = transform
        self.reason = reason
        super().__init__(f"table mapping {mapping!r}, column {column!r}, transform {transform!r}: {reason}")


class TransformFailure(Exception):  # noqa: N818 - internal signal, turned into TransformError by the engine
    """Raised by a bound transform; the engine adds mapping and column and raises ``TransformError``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransformArgsError(ValueError):
    """A transform's ``args`` are invalid (load time). ``field`` is relative to the column: ``args.tz``."""

    def __init__(self, field: str, problem: str, valid: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.valid = valid
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True, slots=True)
class Transform:
    """A named transform: its contract and a factory that validates args and returns the bound function."""

    name: str
    arity: Arity | None  # None: unknown (custom callables)
    inputs: frozenset[TypeFamily] | None  # accepted input families; None: anything
    output: TypeFamily | None  # None: same family as the input(s), or unknown for custom callables
    bind: Callable[[Mapping[str, object]], BoundTransform]
    summary: str
    keeps_null: bool = True  # None in -> None out

    @property
    def is_custom(self) -> bool:
        return "." in self.name


def _type_name(value: object) -> str:
    return type(value).__name__


def _fail_type(expected: str, value: object) -> TransformFailure:
    return TransformFailure(f"expected {expected}, got a value of type {_type_name(value)}")


def _no_args(name: str, args: Mapping[str, object]) -> None:
    if args:
        raise TransformArgsError("args", f"{name} takes no args, got {sorted(map(str, args))}", "no args")


def _allow_only(args: Mapping[str, object], allowed: Sequence[str]) -> None:
    unknown = sorted(str(k) for k in args if k not in allowed)
    if unknown:
        raise TransformArgsError(f"args.{unknown[0]}", "unknown argument", ", ".join(allowed) or "no args")


class Single:
    """A one-value transform bound to its args: ``None`` passes through without calling ``one``. The
    mapping engine calls ``one`` directly (no tuple per value); everything else calls it as a
    ``BoundTransform``."""

    __slots__ = ("one",)

    def __init__(self, one: Callable[[object], object]) -> None:
        self.one = one

    def __call__(self, values: tuple[object, ...]) -> object:
        (value,) = values
        return None if value is None else self.one(value)


def _single(fn: Callable[[object], object]) -> BoundTransform:
    """Wrap a one-value function: ``None`` passes through without calling it."""
    return Single(fn)


# ---------------------------------------------------------------- built-in transforms


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bind_cents_to_numeric(args: Mapping[str, object]) -> BoundTransform:
    _no_args("cents_to_numeric", args)

    def convert(value: object) -> object:
        if type(value) is int:  # the common case: exact, and a third of the tuple route's time
            return Decimal(f"{value}e-2")
        if _is_int(value) or (isinstance(value, Decimal) and value.is_finite() and value == int(value)):
            # Exact at any size: move the exponent (Decimal arithmetic would round to the context precision).
            sign, digits, exponent = Decimal(value).as_tuple()  # type: ignore[arg-type]
            return Decimal((sign, digits, int(exponent) - 2))
        raise _fail_type("an integer number of cents", value)

    return _single(convert)


def _bind_int_code_to_enum(args: Mapping[str, object]) -> BoundTransform:
    _allow_only(args, ["codes"])
    codes_arg = args.get("codes")
    if not isinstance(codes_arg, Mapping) or not codes_arg:
        raise TransformArgsError(
            "args.codes", "missing or empty", "a mapping of integer code to label, e.g. {1: active}"
        )
    codes: dict[int, str] = {}
    for raw_code, label in codes_arg.items():
        code = raw_code
        if isinstance(raw_code, str) and raw_code.lstrip("-").isdigit():
            code = int(raw_code)
        if not _is_int(code):
            raise TransformArgsError(f"args.codes.{raw_code}", "code is not an integer", "integer codes")
        if not isinstance(label, str) or not label:
            raise TransformArgsError(
                f"args.codes.{raw_code}", "label is not a non-empty string", "a text label"
            )
        codes[code] = label

    def convert(value: object) -> object:
        if not _is_int(value):
            raise _fail_type("an integer code", value)
        try:
            return codes[value]  # type: ignore[index]
        except KeyError:
            raise TransformFailure(f"code not in args.codes (known codes: {sorted(codes)})") from None

    return _single(convert)


def _bind_naive_to_timestamptz(args: Mapping[str, object]) -> BoundTransform:
    _allow_only(args, ["tz"])
    tz_name = args.get("tz")
    if not isinstance(tz_name, str) or not tz_name:
        raise TransformArgsError("args.tz", "missing", "an IANA time zone name, e.g. America/New_York or UTC")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        close = sorted(z for z in available_timezones() if z.lower().endswith(tz_name.lower().split("/")[-1]))
        hint = f"e.g. {', '.join(close[:3])}" if close else "e.g. America/New_York, Europe/Paris, UTC"
        raise TransformArgsError(
            "args.tz", f"unknown time zone {tz_name!r}", f"an IANA time zone name, {hint}"
        ) from None

    def convert(value: object) -> object:
        if not isinstance(value, datetime) or value.tzinfo is not None:
            raise _fail_type("a naive datetime (timestamp without time zone)", value)
        return value.replace(tzinfo=tz)

    return _single(convert)


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # NaN / Infinity are not valid in jsonb


def _bind_text_to_jsonb(args: Mapping[str, object]) -> BoundTransform:
    _no_args("text_to_jsonb", args)

    def convert(value: object) -> object:
        # Validated, then passed on as JSON text: PostgreSQL parses it into jsonb exactly (a float
        # round-trip through Python would turn 1.10 into 1.1; jsonb keeps 1.10).
        if not isinstance(value, str):
            raise _fail_type("text", value)
        try:
            orjson.loads(value)  # fast; what it accepts the exact check below accepts too
        except orjson.JSONDecodeError:
            try:  # orjson also refuses what jsonb takes (integers beyond 64 bits): the exact verdict
                json.loads(value, parse_constant=_reject_constant, parse_float=Decimal)
            except ValueError:
                raise TransformFailure("text is not valid JSON") from None
        return value

    return _single(convert)


def _text_fn(name: str, fn: Callable[[str], object]) -> Callable[[Mapping[str, object]], BoundTransform]:
    def bind(args: Mapping[str, object]) -> BoundTransform:
        _no_args(name, args)

        def convert(value: object) -> object:
            if not isinstance(value, str):
                raise _fail_type("text", value)
            return fn(value)

        return _single(convert)

    return bind


def _bind_trim(args: Mapping[str, object]) -> BoundTransform:
    _allow_only(args, ["chars"])
    chars = args.get("chars")
    if chars is not None and (not isinstance(chars, str) or not chars):
        raise TransformArgsError(
            "args.chars", "must be a non-empty string", "characters to strip; default whitespace"
        )

    def convert(value: object) -> object:
        if not isinstance(value, str):
            raise _fail_type("text", value)
        return value.strip(chars)

    return _single(convert)


def _bind_concat_ws(args: Mapping[str, object]) -> BoundTransform:
    _allow_only(args, ["sep"])
    sep = args.get("sep")
    if not isinstance(sep, str):
        raise TransformArgsError("args.sep", "missing or not a string", 'a separator string, e.g. " "')

    def concat(values: tuple[object, ...]) -> object:
        parts = []
        for value in values:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
                raise _fail_type("text or a number", value)
            parts.append(str(value))
        return sep.join(parts) if parts else None

    return concat


def _bind_coalesce(args: Mapping[str, object]) -> BoundTransform:
    _no_args("coalesce", args)

    def coalesce(values: tuple[object, ...]) -> object:
        return next((v for v in values if v is not None), None)

    return coalesce


def _bind_yn_to_bool(args: Mapping[str, object]) -> BoundTransform:
    _no_args("yn_to_bool", args)

    def convert(value: object) -> object:
        if value == "Y":
            return True
        if value == "N":
            return False
        if isinstance(value, str):
            raise TransformFailure("expected 'Y' or 'N'")
        raise _fail_type("'Y' or 'N'", value)

    return _single(convert)


def _bind_int_to_bool(args: Mapping[str, object]) -> BoundTransform:
    _no_args("int_to_bool", args)

    # Strict on purpose: 0/1 only. A legacy -1 or 2 is a data surprise to look at, not to guess.
    def convert(value: object) -> object:
        if not _is_int(value):
            raise _fail_type("an integer 0 or 1", value)
        if value not in (0, 1):
            raise TransformFailure("expected 0 or 1")
        return value == 1

    return _single(convert)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bind_epoch_seconds_to_timestamptz(args: Mapping[str, object]) -> BoundTransform:
    _no_args("epoch_seconds_to_timestamptz", args)

    def convert(value: object) -> object:
        if _is_int(value):
            micros = value * 1_000_000  # type: ignore[operator]
        elif isinstance(value, Decimal) and value.is_finite():
            micros = int((value * 1_000_000).to_integral_value(ROUND_HALF_EVEN))
        elif isinstance(value, float) and math.isfinite(value):
            micros = round(Decimal(value) * 1_000_000)
        else:
            raise _fail_type("a finite number of seconds", value)
        try:
            return _EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            raise TransformFailure("seconds since epoch out of datetime range") from None

    return _single(convert)


_F = TypeFamily
_TEXTUAL = frozenset({_F.TEXT, _F.ENUM})

BUILTINS: Mapping[str, Transform] = {
    t.name: t
    for t in (
        Transform(
            "cents_to_numeric",
            Arity.ONE,
            frozenset({_F.INTEGER}),
            _F.NUMERIC,
            _bind_cents_to_numeric,
            "integer cents → exact Decimal (÷100)",
        ),
        Transform(
            "int_code_to_enum",
            Arity.ONE,
            frozenset({_F.INTEGER}),
            _F.ENUM,
            _bind_int_code_to_enum,
            "integer code → label from args.codes",
        ),
        Transform(
            "naive_to_timestamptz",
            Arity.ONE,
            frozenset({_F.TIMESTAMP}),
            _F.TIMESTAMPTZ,
            _bind_naive_to_timestamptz,
            "naive timestamp read in args.tz → timestamptz",
        ),
        Transform(
            "text_to_jsonb",
            Arity.ONE,
            _TEXTUAL,
            _F.JSON,
            _bind_text_to_jsonb,
            "JSON text → parsed value",
        ),
        Transform("lower", Arity.ONE, _TEXTUAL, _F.TEXT, _text_fn("lower", str.lower), "lower-case text"),
        Transform("trim", Arity.ONE, _TEXTUAL, _F.TEXT, _bind_trim, "strip args.chars (default whitespace)"),
        Transform(
            "nullif_empty",
            Arity.ONE,
            _TEXTUAL,
            _F.TEXT,
            _text_fn("nullif_empty", lambda s: s or None),
            "'' → NULL",
        ),
        Transform(
            "concat_ws",
            Arity.MANY,
            frozenset({_F.TEXT, _F.ENUM, _F.INTEGER, _F.NUMERIC, _F.UUID}),
            _F.TEXT,
            _bind_concat_ws,
            "join non-NULL inputs with args.sep",
            keeps_null=False,
        ),
        Transform(
            "coalesce", Arity.MANY, None, None, _bind_coalesce, "first non-NULL input", keeps_null=False
        ),
        Transform("yn_to_bool", Arity.ONE, _TEXTUAL, _F.BOOL, _bind_yn_to_bool, "'Y'/'N' → true/false"),
        Transform(
            "int_to_bool", Arity.ONE, frozenset({_F.INTEGER}), _F.BOOL, _bind_int_to_bool, "1/0 → true/false"
        ),
        Transform(
            "epoch_seconds_to_timestamptz",
            Arity.ONE,
            frozenset({_F.INTEGER, _F.NUMERIC}),
            _F.TIMESTAMPTZ,
            _bind_epoch_seconds_to_timestamptz,
            "seconds since 1970-01-01 UTC → timestamptz",
        ),
    )
}


def is_custom(name: str) -> bool:
    """A transform name with a dot is a dotted path to a custom callable."""
    return "." in name


class UnknownTransformError(LookupError):
    """``resolve`` could not find or import a transform; ``valid`` says what would be."""

    def __init__(self, problem: str, valid: str) -> None:
        self.problem = problem
        self.valid = valid
        super().__init__(problem)


def _custom(path: str) -> Transform:
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure is a configuration problem
        raise UnknownTransformError(
            f"custom transform module {module_name!r} cannot be imported ({type(exc).__name__})",
            "a dotted path pkg.module.function importable from the worker's environment",
        ) from None
    func = getattr(module, attr, None)
    if func is None or not callable(func):
        raise UnknownTransformError(
            f"{module_name!r} has no callable {attr!r}",
            "a dotted path pkg.module.function naming a callable",
        )
    handles_none = bool(getattr(func, "handles_none", False))

    def bind(args: Mapping[str, object]) -> BoundTransform:
        bad = [k for k in args if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise TransformArgsError(
                f"args.{bad[0]}", "not a valid keyword argument name", "Python identifiers"
            )
        kwargs = {str(k): v for k, v in args.items()}

        def call(values: tuple[object, ...]) -> object:
            if len(values) == 1 and values[0] is None and not handles_none:
                return None
            try:
                return func(*values, **kwargs)
            except TransformFailure:
                raise
            except Exception as exc:  # the exception text may quote the value: keep only its class
                raise TransformFailure(f"custom transform raised {type(exc).__name__}") from None

        return call

    return Transform(path, None, None, None, bind, f"custom callable {path}")


def resolve(name: str) -> Transform:
    """Return the built-in transform ``name``, or import the custom callable at dotted path ``name``.

    Raises ``UnknownTransformError`` (with what would be valid) when neither works.
    """
    if is_custom(name):
        return _custom(name)
    try:
        return BUILTINS[name]
    except KeyError:
        raise UnknownTransformError(
            f"unknown transform {name!r}",
            f"one of {', '.join(sorted(BUILTINS))}, or a dotted path pkg.module.function",
        ) from None
