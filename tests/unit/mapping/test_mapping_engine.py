"""The pure mapping engine: one V1 change → the V2 writes it implies."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from mapping_samples import BASIC, MERGE_SPLIT

from replicator.errors import TerminalError
from replicator.mapping.engine import (
    Delete,
    FilterError,
    MappingEngine,
    Op,
    RowShapeError,
    SourceRow,
    TransformError,
    Upsert,
    V2Key,
)
from replicator.mapping.model import Mapping

ROW = {
    "id": 7,
    "email_address": "ada@example.com",
    "status_code": 1,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "deleted": False,
    "legacy_flag": "x",
}


@pytest.fixture
def engine(load: Callable[[str], Mapping]) -> MappingEngine:
    return MappingEngine(load(BASIC))


@pytest.fixture
def merge_split(load: Callable[[str], Mapping]) -> MappingEngine:
    return MappingEngine(load(MERGE_SPLIT))


def test_insert_maps_every_construct(engine: MappingEngine) -> None:
    """An insert yields one upsert with renames, transforms, computed columns and consts."""
    (write,) = engine.apply(SourceRow("users", Op.CREATE, None, ROW))
    assert write == Upsert(
        "users",
        "users",
        (7,),
        {
            "id": 7,
            "email": "ada@example.com",
            "status": "active",
            "full_name": "Ada Lovelace",
            "kind": "member",
        },
        frozenset(),
    )


def test_snapshot_read_is_an_upsert(engine: MappingEngine) -> None:
    """A snapshot read (op r) maps like an insert."""
    assert engine.apply(SourceRow("users", Op.READ, None, ROW)) == engine.apply(
        SourceRow("users", Op.CREATE, None, ROW)
    )


def test_unmapped_table_yields_nothing(engine: MappingEngine) -> None:
    """A V1 table without a mapping produces no writes."""
    assert engine.apply(SourceRow("audit_log", Op.CREATE, None, {"id": 1})) == []


def test_insert_filtered_out(engine: MappingEngine) -> None:
    """An insert failing the filter produces no write."""
    assert engine.apply(SourceRow("users", Op.CREATE, None, {**ROW, "deleted": True})) == []


def test_filter_ne_keeps_null(engine: MappingEngine) -> None:
    """`ne true` keeps rows whose column is NULL (Python, not SQL, semantics)."""
    assert len(engine.apply(SourceRow("users", Op.CREATE, None, {**ROW, "deleted": None}))) == 1


def test_update_only_dropped_column_is_no_change(engine: MappingEngine) -> None:
    """An update changing only a dropped column, with a complete before, writes nothing."""
    row = SourceRow("users", Op.UPDATE, ROW, {**ROW, "legacy_flag": "y"})
    assert engine.apply(row) == []


def test_update_without_before_upserts(engine: MappingEngine) -> None:
    """Without before (REPLICA IDENTITY DEFAULT) an update always upserts."""
    (write,) = engine.apply(SourceRow("users", Op.UPDATE, None, {**ROW, "legacy_flag": "y"}))
    assert isinstance(write, Upsert)


def test_update_mapped_column_upserts(engine: MappingEngine) -> None:
    """An update changing a mapped column upserts the new values."""
    (write,) = engine.apply(SourceRow("users", Op.UPDATE, ROW, {**ROW, "status_code": 2}))
    assert isinstance(write, Upsert)
    assert write.values["status"] == "suspended"


def test_update_key_change_deletes_old_key_first(engine: MappingEngine) -> None:
    """A V2 key change deletes the old key before upserting the new one."""
    writes = engine.apply(SourceRow("users", Op.UPDATE, ROW, {**ROW, "id": 8}))
    assert writes[0] == Delete("users", "users", (7,))
    assert isinstance(writes[1], Upsert)
    assert writes[1].key == (8,)


def test_update_now_filtered_deletes(engine: MappingEngine) -> None:
    """An update after which the filter fails deletes the V2 row."""
    writes = engine.apply(SourceRow("users", Op.UPDATE, ROW, {**ROW, "deleted": True}))
    assert writes == [Delete("users", "users", (7,))]


def test_update_unavailable_toast_column_is_missing(engine: MappingEngine) -> None:
    """A V2 column fed by an unavailable (unchanged TOAST) column is left out and listed in missing."""
    after = {k: v for k, v in ROW.items() if k != "email_address"}
    (write,) = engine.apply(SourceRow("users", Op.UPDATE, None, after, frozenset({"email_address"})))
    assert isinstance(write, Upsert)
    assert "email" not in write.values
    assert write.missing == frozenset({"email"})


def test_update_unavailable_recovered_from_before(engine: MappingEngine) -> None:
    """An unavailable column is taken from before when before has it, so nothing is missing."""
    after = {k: v for k, v in ROW.items() if k != "email_address"}
    (write,) = engine.apply(
        SourceRow("users", Op.UPDATE, ROW, {**after, "status_code": 2}, frozenset({"email_address"}))
    )
    assert isinstance(write, Upsert)
    assert write.values["email"] == "ada@example.com"
    assert write.missing == frozenset()


def test_update_unavailable_only_is_no_change(engine: MappingEngine) -> None:
    """An update whose only difference is an unavailable (hence unchanged) column writes nothing."""
    after = {k: v for k, v in ROW.items() if k != "email_address"}
    assert engine.apply(SourceRow("users", Op.UPDATE, ROW, after, frozenset({"email_address"}))) == []


def test_delete_with_key_only_before(engine: MappingEngine) -> None:
    """A delete whose before holds only the key (filter not evaluable) deletes the V2 row."""
    assert engine.apply(SourceRow("users", Op.DELETE, {"id": 7}, None)) == [Delete("users", "users", (7,))]


def test_delete_of_filtered_row_is_nothing(engine: MappingEngine) -> None:
    """A delete of a row that failed the filter writes nothing (it never reached V2)."""
    assert engine.apply(SourceRow("users", Op.DELETE, {**ROW, "deleted": True}, None)) == []


def test_delete_without_key_raises(engine: MappingEngine) -> None:
    """A delete whose before lacks the key raises a TerminalError naming table and key column."""
    with pytest.raises(RowShapeError) as info:
        engine.apply(SourceRow("users", Op.DELETE, {"email_address": "x"}, None))
    assert isinstance(info.value, TerminalError)
    assert info.value.table == "users"
    assert info.value.columns == frozenset({"id"})
    assert "'users'" in str(info.value)
    assert "id" in str(info.value)


def test_transform_error_names_place_not_value(engine: MappingEngine) -> None:
    """A failing transform raises TransformError with mapping, column, transform — and no row value."""
    with pytest.raises(TransformError) as info:
        engine.apply(SourceRow("users", Op.CREATE, None, {**ROW, "status_code": 987654}))
    err = info.value
    assert (err.mapping, err.column, err.transform) == ("users", "status", "int_code_to_enum")
    assert "987654" not in str(err)
    assert err.__cause__ is None


def test_filter_type_error(load: Callable[[str], Mapping]) -> None:
    """A filter comparing incomparable types raises FilterError naming the type, not the value."""
    engine = MappingEngine(load(BASIC.replace("op: ne, value: true", "op: gt, value: 3")))
    with pytest.raises(FilterError) as info:
        engine.apply(SourceRow("users", Op.CREATE, None, {**ROW, "deleted": "secret"}))
    assert "str" in str(info.value)
    assert "secret" not in str(info.value)


def test_missing_mapped_column_raises(engine: MappingEngine) -> None:
    """An insert lacking a mapped column (not unavailable) raises RowShapeError naming it."""
    after = {k: v for k, v in ROW.items() if k != "first_name"}
    with pytest.raises(RowShapeError, match="first_name"):
        engine.apply(SourceRow("users", Op.CREATE, None, after))


def test_split_writes_in_file_order(merge_split: MappingEngine) -> None:
    """A split source row yields one upsert per target, in mapping file order."""
    writes = merge_split.apply(
        SourceRow("users", Op.CREATE, None, {"id": 1, "bio": "b", "balance_cents": 250})
    )
    assert [(w.table, w.mapping) for w in writes] == [("accounts", "users"), ("profiles", "user_profiles")]
    assert isinstance(writes[0], Upsert)
    assert writes[0].values == {"source": "live", "id": 1, "balance": Decimal("2.50")}


def test_merge_keys_carry_discriminator(merge_split: MappingEngine) -> None:
    """Rows of two merged sources with the same id land on distinct V2 keys."""
    live = merge_split.keys("users", {"id": 1})
    archived = merge_split.keys("archived_users", {"id": 1})
    assert live[0] == V2Key("accounts", "users", ("live", 1))
    assert archived == [V2Key("accounts", "archived_users", ("archived", 1))]


def test_keys_respect_filter(engine: MappingEngine) -> None:
    """keys(respect_filter=True) skips mappings whose filter fails."""
    assert engine.keys("users", {**ROW, "deleted": True}) == [V2Key("users", "users", (7,))]
    assert engine.keys("users", {**ROW, "deleted": True}, respect_filter=True) == []
