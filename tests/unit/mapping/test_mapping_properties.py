"""Property tests: no-op updates, deterministic merge/split keys, exact deletes, exact transforms."""

from __future__ import annotations

from decimal import Decimal, localcontext

import yaml
from hypothesis import given
from hypothesis import strategies as st
from mapping_samples import BASIC, MERGE_SPLIT

from replicator.mapping.engine import Delete, MappingEngine, Op, SourceRow, Upsert
from replicator.mapping.model import parse_mapping
from replicator.mapping.transforms import resolve

BASIC_ENGINE = MappingEngine(parse_mapping(yaml.safe_load(BASIC)))
MERGE_ENGINE = MappingEngine(parse_mapping(yaml.safe_load(MERGE_SPLIT)))

texts = st.text(max_size=20)
user_rows = st.fixed_dictionaries(
    {
        "id": st.integers(),
        "email_address": st.none() | texts,
        "status_code": st.sampled_from([1, 2]),
        "first_name": st.none() | texts,
        "last_name": st.none() | texts,
        "deleted": st.sampled_from([False, None, True]),
        "legacy_flag": st.none() | texts,
    }
)
split_rows = st.fixed_dictionaries(
    {"id": st.integers(), "bio": st.none() | texts, "balance_cents": st.none() | st.integers()}
)


@given(user_rows, st.none() | texts)
def test_update_of_dropped_column_writes_nothing(row: dict[str, object], flag: str | None) -> None:
    """An update that changes only a dropped column never yields a write."""
    assert BASIC_ENGINE.apply(SourceRow("users", Op.UPDATE, row, {**row, "legacy_flag": flag})) == []


@given(split_rows)
def test_split_and_merge_are_deterministic(row: dict[str, object]) -> None:
    """The same V1 row always maps to the same writes, and upsert keys equal keys()."""
    for table in ("users", "archived_users"):
        values = row if table == "users" else {k: v for k, v in row.items() if k != "bio"}
        first = MERGE_ENGINE.apply(SourceRow(table, Op.CREATE, None, values))
        assert first == MERGE_ENGINE.apply(SourceRow(table, Op.READ, None, dict(values)))
        assert [(w.table, w.mapping, w.key) for w in first] == [
            (k.table, k.mapping, k.key) for k in MERGE_ENGINE.keys(table, values)
        ]


@given(split_rows, st.sampled_from(["users", "archived_users"]))
def test_delete_of_merged_row_deletes_exactly_its_row(row: dict[str, object], table: str) -> None:
    """Deleting a merged source row deletes exactly the V2 row its insert wrote, and only in its target."""
    values = row if table == "users" else {k: v for k, v in row.items() if k != "bio"}
    inserted = [
        w for w in MERGE_ENGINE.apply(SourceRow(table, Op.CREATE, None, values)) if w.table == "accounts"
    ]
    deletes = MERGE_ENGINE.apply(SourceRow(table, Op.DELETE, {"id": row["id"]}, None))
    accounts = [d for d in deletes if d.table == "accounts"]
    assert len(inserted) == 1
    assert isinstance(inserted[0], Upsert)
    assert accounts == [Delete("accounts", table, inserted[0].key)]
    other_source = "archived_users" if table == "users" else "users"
    other_keys = {k.key for k in MERGE_ENGINE.keys(other_source, {"id": row["id"]}) if k.table == "accounts"}
    assert inserted[0].key not in other_keys


@given(st.integers())
def test_cents_to_numeric_round_trips(cents: int) -> None:
    """cents_to_numeric is exact: the result times 100 is the original integer, at any size."""
    result = resolve("cents_to_numeric").bind({})((cents,))
    assert isinstance(result, Decimal)
    with localcontext() as ctx:
        ctx.prec = 1000  # exact multiplication for any generated integer
        assert result * 100 == cents
    assert result.as_tuple().exponent == -2
