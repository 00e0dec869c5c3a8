"""Shared fixtures for the demo scenario tests: generated data at scale 1.0 and 0.02, the mapping."""

from __future__ import annotations

import pytest

from replicator.demo.generate import DemoData, generate
from replicator.demo.load import SCHEMAS_DIR
from replicator.demo.v2 import V2Data, build_v2
from replicator.mapping.model import Mapping, load_mapping


@pytest.fixture(scope="session")
def full() -> DemoData:
    """The scenario at scale 1.0 with the default seed."""
    return generate(1.0)


@pytest.fixture(scope="session")
def small() -> DemoData:
    """The scenario at scale 0.02 with the default seed."""
    return generate(0.02)


@pytest.fixture(scope="session")
def mapping() -> Mapping:
    """The project's V1→V2 mapping."""
    return load_mapping(SCHEMAS_DIR / "mapping.yaml")


@pytest.fixture(scope="session")
def partial_v2(full: DemoData, small: DemoData, mapping: Mapping) -> dict[float, V2Data]:
    """The partially migrated V2 of both scales, keyed by scale (mapping once per scale)."""
    return {data.scale: build_v2(data, mapping) for data in (full, small)}
