"""Fixtures for the mapping tests: small YAML mappings written to tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from replicator.mapping.model import Mapping, load_mapping


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str], Path]:
    """Write a dedented YAML string to a file in tmp_path and return its path."""
    counter = iter(range(1_000_000))

    def write(text: str) -> Path:
        path = tmp_path / f"mapping_{next(counter)}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load(write_yaml: Callable[[str], Path]) -> Callable[[str], Mapping]:
    """Write a YAML string and load it as a mapping."""

    def _load(text: str) -> Mapping:
        return load_mapping(write_yaml(text))

    return _load
