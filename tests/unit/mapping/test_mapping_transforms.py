"""Built-in and custom transforms: exact results, None handling, args validation, value-free failures."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from replicator.mapping import transforms
from replicator.mapping.transforms import (
    BUILTINS,
    TransformArgsError,
    TransformFailure,
    UnknownTransformError,
    resolve,
)
from replicator.pipeline.infinity import infinite, infinite_timestamp


def run(name: str, *values: object, **args: object) -> object:
    return resolve(name).bind(args)(values)


def test_every_builtin_declares_contract() -> None:
    """Every required built-in transform exists and declares its arity and a summary."""
    required = {
        "cents_to_numeric",
        "int_code_to_enum",
        "naive_to_timestamptz",
        "text_to_jsonb",
        "lower",
        "trim",
        "nullif_empty",
        "concat_ws",
        "coalesce",
        "yn_to_bool",
        "int_to_bool",
        "epoch_seconds_to_timestamptz",
    }
    assert required <= set(BUILTINS)
    for transform in BUILTINS.values():
        assert transform.arity is not None
        assert transform.summary


def test_cents_to_numeric_exact() -> None:
    """cents_to_numeric divides by 100 exactly, including huge and negative amounts."""
    assert run("cents_to_numeric", 12345) == Decimal("123.45")
    assert run("cents_to_numeric", -1) == Decimal("-0.01")
    big = 10**40 + 7
    assert run("cents_to_numeric", big) == Decimal(f"{big // 100}.{big % 100:02d}")


def test_none_passes_through_single_input_transforms() -> None:
    """None in gives None out for single-input built-ins, whatever their args."""
    args = {"int_code_to_enum": {"codes": {1: "a"}}, "naive_to_timestamptz": {"tz": "UTC"}}
    for name, transform in BUILTINS.items():
        if transform.arity is transforms.Arity.ONE:
            assert run(name, None, **args.get(name, {})) is None, name


def test_failure_carries_type_not_value() -> None:
    """A rejected value is described by its type name, never by the value itself."""
    with pytest.raises(TransformFailure) as info:
        run("cents_to_numeric", "secret-4111")
    assert "str" in info.value.reason
    assert "secret" not in info.value.reason


def test_int_code_to_enum() -> None:
    """Known codes map to labels; unknown codes fail without quoting the code."""
    assert run("int_code_to_enum", 2, codes={1: "active", 2: "suspended"}) == "suspended"
    assert run("int_code_to_enum", 1, codes={"1": "active"}) == "active"
    with pytest.raises(TransformFailure, match=r"code not in args\.codes"):
        run("int_code_to_enum", 9, codes={1: "active"})


@pytest.mark.parametrize(
    ("args", "field"),
    [({}, "args.codes"), ({"codes": {}}, "args.codes"), ({"codes": {"x": "a"}}, "args.codes.x")],
)
def test_int_code_to_enum_args(args: dict[str, object], field: str) -> None:
    """int_code_to_enum validates args.codes and names the bad field."""
    with pytest.raises(TransformArgsError) as info:
        resolve("int_code_to_enum").bind(args)
    assert info.value.field == field


def test_naive_to_timestamptz() -> None:
    """A naive datetime is read in args.tz (DST-aware); an aware one is rejected."""
    winter = run("naive_to_timestamptz", datetime(2024, 1, 15, 12), tz="America/New_York")
    summer = run("naive_to_timestamptz", datetime(2024, 7, 15, 12), tz="America/New_York")
    assert isinstance(winter, datetime)
    assert isinstance(summer, datetime)
    assert winter.utcoffset() == timedelta(hours=-5)
    assert summer.utcoffset() == timedelta(hours=-4)
    with pytest.raises(TransformFailure, match="naive datetime"):
        run("naive_to_timestamptz", datetime(2024, 1, 1, tzinfo=UTC), tz="UTC")


@pytest.mark.parametrize("positive", [True, False])
def test_naive_to_timestamptz_keeps_an_infinity_infinite(positive: bool) -> None:
    """PostgreSQL's 'infinity' in a timestamp column is 'infinity' in the timestamptz column it feeds."""
    out = run("naive_to_timestamptz", infinite_timestamp(positive, aware=False), tz="America/New_York")
    assert infinite(out) == ("infinity" if positive else "-infinity")


def test_naive_to_timestamptz_bad_zone() -> None:
    """An unknown zone is rejected at bind time, naming args.tz."""
    with pytest.raises(TransformArgsError) as info:
        resolve("naive_to_timestamptz").bind({"tz": "Europe/Pariss"})
    assert info.value.field == "args.tz"


def test_text_to_jsonb() -> None:
    """Valid JSON text passes unchanged (1.10 stays 1.10); invalid text and NaN fail without the text."""
    assert run("text_to_jsonb", '{"a": [1, 2.50]}') == '{"a": [1, 2.50]}'
    for bad in ("{oops", "NaN", '{"a": Infinity}'):
        with pytest.raises(TransformFailure) as info:
            run("text_to_jsonb", bad)
        assert bad not in info.value.reason


def test_text_to_jsonb_takes_what_jsonb_takes() -> None:
    """Integers beyond 64 bits and huge exponents are valid jsonb: they pass, unchanged."""
    for good in ('{"n": 123456789012345678901234567890}', "[1e999]", '"\\ud83d\\ude00"'):
        assert run("text_to_jsonb", good) == good


def test_text_transforms() -> None:
    """lower, trim and nullif_empty behave like their SQL namesakes."""
    assert run("lower", "MiXed") == "mixed"
    assert run("trim", "  x \n") == "x"
    assert run("trim", "--x--", chars="-") == "x"
    assert run("nullif_empty", "") is None
    assert run("nullif_empty", " ") == " "


def test_concat_ws_skips_none() -> None:
    """concat_ws joins non-None inputs with args.sep and gives None when all are None."""
    assert run("concat_ws", "Ada", None, "Lovelace", sep=" ") == "Ada Lovelace"
    assert run("concat_ws", "a", 1, sep="-") == "a-1"
    assert run("concat_ws", None, None, sep=" ") is None
    with pytest.raises(TransformArgsError):
        resolve("concat_ws").bind({})


def test_coalesce() -> None:
    """coalesce returns the first non-None input."""
    assert run("coalesce", None, 0, 5) == 0
    assert run("coalesce", None, None) is None


def test_bool_transforms() -> None:
    """yn_to_bool and int_to_bool accept only their two values."""
    assert run("yn_to_bool", "Y") is True
    assert run("yn_to_bool", "N") is False
    assert run("int_to_bool", 1) is True
    assert run("int_to_bool", 0) is False
    with pytest.raises(TransformFailure):
        run("yn_to_bool", "yes")
    with pytest.raises(TransformFailure):
        run("int_to_bool", 2)


def test_epoch_seconds() -> None:
    """Epoch seconds (int or Decimal) become exact UTC datetimes."""
    assert run("epoch_seconds_to_timestamptz", 0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert run("epoch_seconds_to_timestamptz", Decimal("1.5")) == datetime(
        1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC
    )
    with pytest.raises(TransformFailure, match="out of datetime range"):
        run("epoch_seconds_to_timestamptz", 10**15)


def test_no_args_transforms_reject_args() -> None:
    """A transform that takes no args rejects any."""
    with pytest.raises(TransformArgsError, match="takes no args"):
        resolve("lower").bind({"x": 1})


def test_unknown_transform() -> None:
    """resolve rejects an unknown name listing the built-ins."""
    with pytest.raises(UnknownTransformError) as info:
        resolve("upper")
    assert "lower" in info.value.valid


@pytest.fixture
def custom_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway importable module with custom transforms."""
    (tmp_path / "my_mapping_transforms.py").write_text(
        textwrap.dedent(
            """
            def score(value, *, factor=1):
                return value * factor

            def boom(value):
                raise ValueError(f"bad value {value}")

            def null_to_zero(value):
                return 0 if value is None else value
            null_to_zero.handles_none = True
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_mapping_transforms"
    sys.modules.pop("my_mapping_transforms", None)


def test_custom_transform(custom_module: str) -> None:
    """A custom callable gets the value(s) and **args; None passes through unless it handles None."""
    assert run(f"{custom_module}.score", 3, factor=2) == 6
    assert run(f"{custom_module}.score", None) is None
    assert run(f"{custom_module}.null_to_zero", None) == 0


def test_custom_transform_exception_hides_value(custom_module: str) -> None:
    """An exception from a custom transform becomes a failure naming only the exception class."""
    with pytest.raises(TransformFailure) as info:
        run(f"{custom_module}.boom", "4111-secret")
    assert info.value.reason == "custom transform raised ValueError"
