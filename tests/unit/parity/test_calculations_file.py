"""The calculations file: the shipped one loads; a bad one stops with the field's path named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from replicator.parity.calculations import (
    DEFAULT_CALCULATIONS,
    CalculationsError,
    load_calculations,
    parse_calculations,
)


def _doc(**calc: Any) -> dict[str, Any]:
    base = {"name": "c1", "v1": "SELECT 1 AS x", "v2": "SELECT 1 AS x"}
    base.update(calc)
    return {"version": 1, "calculations": [base]}


def _problem_paths(data: object) -> list[str]:
    with pytest.raises(CalculationsError) as caught:
        parse_calculations(data, "calc.yaml")
    return [path for path, _, _ in caught.value.problems]


def test_the_shipped_file_has_twelve_valid_calculations() -> None:
    """schemas/calculations.yaml loads; only price_per_sqft_by_city declares a tolerance."""
    calcs = load_calculations(DEFAULT_CALCULATIONS)
    assert len(calcs.calculations) == 12
    assert [c.name for c in calcs.calculations if c.tolerance] == ["price_per_sqft_by_city"]


@pytest.mark.parametrize(
    ("calc", "path"),
    [
        ({"tolerance": {"avg": -1}}, "calculations[0].tolerance"),
        ({"tolerance": {"avg": "tiny"}}, "calculations[0].tolerance.avg"),
        ({"rounding": {"avg": -2}}, "calculations[0].rounding"),
        ({"v2": "DELETE FROM users"}, "calculations[0].v2"),
        ({"v1": "SELECT 1; DROP TABLE users"}, "calculations[0].v1"),
        ({"name": "Bad Name"}, "calculations[0].name"),
        ({"colour": "red"}, "calculations[0].colour"),
    ],
)
def test_a_bad_field_is_named_by_its_path(calc: dict[str, Any], path: str) -> None:
    """Each invalid field is reported at its path inside the file."""
    assert path in _problem_paths(_doc(**calc))


def test_missing_query_and_wrong_version_are_both_listed() -> None:
    """Every problem is listed, not only the first; the message names the file and what is valid."""
    data = _doc()
    data["version"] = 2
    del data["calculations"][0]["v2"]
    with pytest.raises(CalculationsError) as caught:
        parse_calculations(data, "calc.yaml")
    paths = [p for p, _, _ in caught.value.problems]
    assert paths == ["version", "calculations[0].v2"]
    assert "calc.yaml" in str(caught.value)
    assert "version: 1" in str(caught.value)


def test_duplicate_names_are_rejected() -> None:
    """Two calculations with one name cannot both be reported."""
    data = _doc()
    data["calculations"].append(dict(data["calculations"][0]))
    assert _problem_paths(data) == ["calculations[1].name"]


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    """A missing file and invalid YAML are configuration errors naming where."""
    with pytest.raises(CalculationsError, match="cannot read"):
        load_calculations(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncalculations: [\n", encoding="utf-8")
    with pytest.raises(CalculationsError, match="not valid YAML"):
        load_calculations(bad)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_doc(tolerance={"x": 0.5})), encoding="utf-8")
    assert load_calculations(good).calculations[0].tolerances()["x"] == pytest.approx(0.5)
