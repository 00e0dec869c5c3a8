"""A V1 truncate: dead-lettered with the repair for a mapped table, skipped for one no mapping reads."""

from __future__ import annotations

from replicator.demo.load import SCHEMAS_DIR
from replicator.mapping.model import load_mapping
from replicator.pipeline.deadletter import DeadLetterReason, reason_for
from replicator.pipeline.envelope import Position, Truncate
from replicator.pipeline.truncate import truncate_outcome

MAPPING = load_mapping(SCHEMAS_DIR / "mapping.yaml")


def truncate(table: str) -> Truncate:
    return Truncate("public", table, Position(2, 1), 0)


def test_a_merged_table_names_its_v2_table_and_the_commands() -> None:
    error = truncate_outcome(truncate("archived_users"), MAPPING)
    assert error is not None and reason_for(error) is DeadLetterReason.TRUNCATE
    assert error.targets == ("users",)
    assert "`replicator repair extra --table users` removes them" in str(error)


def test_a_split_table_names_every_v2_table_it_feeds() -> None:
    error = truncate_outcome(truncate("agents"), MAPPING)
    assert error is not None and error.targets == ("agent_licenses", "agents")


def test_a_table_no_mapping_reads_is_not_a_dead_letter() -> None:
    assert truncate_outcome(truncate("smoke_items"), MAPPING) is None
