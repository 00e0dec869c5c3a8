"""The initial load's pure parts: table order and the records it hands the pipeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from replicator.demo.load import SCHEMAS_DIR
from replicator.load.order import ALONE_BYTES, alone, linked, load_groups
from replicator.load.records import LOAD_PARTITION, ORIGIN_HEADER, RecordBuilder
from replicator.mapping.catalog import CatalogColumn, CatalogTable
from replicator.mapping.model import load_mapping
from replicator.pipeline.envelope import Op, Position, RowChange, decode

MAPPING = load_mapping(SCHEMAS_DIR / "mapping.yaml")


def test_every_v1_table_is_loaded_once_after_the_tables_its_parents_come_from() -> None:
    groups = load_groups(MAPPING)
    position = {table: n for n, group in enumerate(groups) for table in group}
    assert sorted(position) == sorted({t.source for t in MAPPING.tables})
    sources = {t.target: {m.source for m in MAPPING.mappings_for_target(t.target)} for t in MAPPING.tables}
    for rel in MAPPING.relationships:
        for child in sources[rel.table]:
            for parent in sources[rel.references]:
                assert position[parent] <= position[child], rel.name


def test_a_cycle_and_a_merge_are_loaded_as_one_group() -> None:
    groups = load_groups(MAPPING)
    assert ("agents", "teams") in groups  # teams.lead_agent_id <-> agents.team_id
    assert ("archived_users", "users") in groups  # one V2 table, which references itself
    assert groups[0] == ("networks",)


def test_only_groups_whose_rows_reference_each_other_are_linked() -> None:
    """A self-reference or a cycle links a group (read whole by one process); a split does not: the
    listing_photos group writes listing_media alone, agents' split child agent_licenses is no link of
    its own, and plain children reference other groups only."""
    assert {g for g in load_groups(MAPPING) if linked(MAPPING, g)} == {
        ("archived_users", "users"),
        ("agents", "teams"),
    }


def test_the_first_process_loads_the_leading_small_and_linked_groups_alone() -> None:
    """networks and offices are small, users and agents/teams linked: the first four groups are loaded
    by the first process alone; it stops at the first large group that is not linked, and an unknown
    size counts as large."""
    groups = load_groups(MAPPING)
    assert groups[:5] == [
        ("networks",),
        ("offices",),
        ("archived_users", "users"),
        ("agents", "teams"),
        ("audit_logs",),
    ]
    big = {name: 10 * ALONE_BYTES for group in groups for name in group}
    small = {**big, "networks": 8192, "offices": 8192}
    assert alone(MAPPING, groups, small) == 4
    assert alone(MAPPING, groups, {**small, "audit_logs": 8192}) == 5
    assert alone(MAPPING, groups, big) == 0  # networks is large: nothing is loaded alone
    assert alone(MAPPING, groups, {"offices": 8192}) == 0  # networks' size unknown
    assert alone(MAPPING, groups, small, limit=0) == 0


TABLE = CatalogTable(
    name="offers",
    columns=(
        CatalogColumn("id", "bigint", "int8"),
        CatalogColumn("amount", "numeric(12,2)", "numeric"),
        CatalogColumn("made_at", "timestamp without time zone", "timestamp"),
    ),
    primary_key=("id",),
)


def test_a_loaded_row_is_a_snapshot_read_below_every_streamed_change() -> None:
    builder = RecordBuilder(
        TABLE,
        schema="public",
        topic="v1.public.offers",
        connector="v1",
        lsn=0x1_0000_0010,
        taken_us=1_700_000_000_000_000,
    )
    rows = [
        {"id": 7, "amount": Decimal("10.50"), "made_at": datetime(2024, 5, 1, 12, 0, 0, 5)},
        {"id": 8, "amount": None, "made_at": None},
    ]
    records = [source.record() for source in builder.sources(rows)]
    assert [(r.topic, r.partition, r.offset) for r in records] == [
        ("v1.public.offers", LOAD_PARTITION, 0),
        ("v1.public.offers", LOAD_PARTITION, 1),
    ]
    assert records[0].headers == (ORIGIN_HEADER,)
    change = decode(records[0].key, records[0].value, topic=records[0].topic)
    assert isinstance(change, RowChange)
    assert (change.op, change.table, change.key, change.snapshot) == (Op.READ, "offers", {"id": 7}, True)
    assert change.after == {"id": 7, "amount": "10.50", "made_at": 1_714_564_800_000_005}
    assert change.position == Position(commit_lsn=0, lsn=0x1_0000_0010)
    assert change.commit_ts_us == 1_700_000_000_000_000
    # Any streamed change (its commit LSN is a real, positive LSN) sorts after every loaded row,
    # and a later load (a later consistent point) after an earlier one.
    assert change.position < Position(commit_lsn=1, lsn=0)
    assert builder.sources(rows[:1])[0].record().offset == 2
