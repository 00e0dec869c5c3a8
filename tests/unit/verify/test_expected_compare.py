"""V1 rows through the mapping with orphan policies, row diffs, and what counts as in flight."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from replicator.mapping.engine import MappingEngine
from replicator.mapping.model import Mapping, parse_mapping
from replicator.pipeline.fk import FkGraph, canonical_key, row_id
from replicator.verify.chunks import token
from replicator.verify.compare import (
    Kind,
    RowDiff,
    TableResult,
    compare_chunk,
    diff_rows,
    split_in_flight,
    unchanged_in_v1,
)
from replicator.verify.expected import (
    apply_orphan_policies,
    map_source_rows,
    orphan_refs,
    table_spec,
    to_tokens,
)

DOC = """
version: 1
tables:
  - {name: owners, source: owners, target: owners, key: [id], columns: {id: id, name: name}}
  - name: old_owners
    source: old_owners
    target: owners
    key: [id]
    columns: {id: id, name: name, archived: {const: true}}
  - name: pets
    source: pets
    target: pets
    key: [id]
    filter: [{column: deleted, op: ne, value: Y}]
    columns: {id: id, owner_id: owner_id, vet_id: vet_id, name: {from: name, transform: trim}}
  - {name: vets, source: vets, target: vets, key: [id], columns: {id: id}}
relationships:
  - name: pets_owner
    table: pets
    columns: [owner_id]
    references: owners
    ref_columns: [id]
    on_orphan: drop
  - {name: pets_vet, table: pets, columns: [vet_id], references: vets, ref_columns: [id], on_orphan: set_null}
"""


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return parse_mapping(yaml.safe_load(DOC))


def _pets(mapping: Mapping, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return map_source_rows(MappingEngine(mapping), "pets", [("pets", r) for r in rows])


def test_the_mapping_and_its_filter_shape_the_expected_rows(mapping: Mapping) -> None:
    """Expected rows are the engine's output: transformed values, filtered rows left out."""
    rows = _pets(
        mapping,
        [
            {"id": 1, "owner_id": 1, "vet_id": None, "name": " rex ", "deleted": "N"},
            {"id": 2, "owner_id": 1, "vet_id": None, "name": "tom", "deleted": "Y"},
        ],
    )
    assert list(rows) == [canonical_key((1,))]
    assert rows[canonical_key((1,))].values["name"] == "rex"


def test_orphan_policies_clear_or_leave_out_the_row(mapping: Mapping) -> None:
    """Parent absent in V1: set_null clears the FK column, drop leaves the row out; present: unchanged."""
    graph = FkGraph(mapping)
    rows = _pets(
        mapping,
        [
            {"id": 1, "owner_id": 10, "vet_id": 7, "name": "a", "deleted": "N"},  # both parents present
            {"id": 2, "owner_id": 10, "vet_id": 8, "name": "b", "deleted": "N"},  # vet gone → NULL
            {"id": 3, "owner_id": 11, "vet_id": 7, "name": "c", "deleted": "N"},  # owner gone → dropped
            {"id": 4, "owner_id": None, "vet_id": None, "name": "d", "deleted": "N"},  # no references
        ],
    )
    refs = orphan_refs("pets", rows, graph)
    assert set(refs) == {
        row_id("owners", (10,)),
        row_id("owners", (11,)),
        row_id("vets", (7,)),
        row_id("vets", (8,)),
    }
    present = {row_id("owners", (10,)): True, row_id("owners", (11,)): False, row_id("vets", (7,)): True}
    present[row_id("vets", (8,))] = False
    out = apply_orphan_policies("pets", rows, graph, present)
    assert sorted(out) == sorted(canonical_key((k,)) for k in (1, 2, 4))
    assert out[canonical_key((2,))].values["vet_id"] is None
    assert out[canonical_key((1,))].values["vet_id"] == 7


def test_a_merge_compares_columns_a_source_does_not_feed_as_null_unless_v2_defaults_them(
    mapping: Mapping,
) -> None:
    """users + archived_users: a column only one source feeds is NULL for the other, or unverifiable."""
    spec = table_spec(
        mapping, "owners", {"id": ("bigint", True), "name": ("text", False), "archived": ("boolean", False)}
    )
    assert spec.columns == ("archived", "id", "name") and spec.unverified == ()
    defaulted = table_spec(mapping, "owners", {"id": ("bigint", True), "archived": ("boolean", True)})
    assert defaulted.columns == ("id", "name") and defaulted.unverified == ("archived",)
    rows = map_source_rows(MappingEngine(mapping), "owners", [("owners", {"id": 1, "name": "x"})])
    tokens = to_tokens(spec, {k: r.values for k, r in rows.items()})
    assert tokens[canonical_key((1,))]["archived"] == token(None)


def test_diff_names_missing_extra_and_different_rows_with_their_columns() -> None:
    """Each differing key is classified once; differing columns are named, values never."""
    expected = {"k1": {"a": "1", "b": "2"}, "k2": {"a": "1", "b": "2"}, "k3": {"a": "1", "b": "2"}}
    actual = {"k1": {"a": "1", "b": "2"}, "k3": {"a": "1", "b": "9"}, "k4": {"a": "1", "b": "2"}}
    assert diff_rows(expected, actual) == [
        RowDiff(Kind.DIFFERENT, "k3", ("b",)),
        RowDiff(Kind.EXTRA, "k4"),
        RowDiff(Kind.MISSING, "k2"),
    ]
    result = TableResult("t")
    result.add(compare_chunk(0, expected, actual), {"k3": {"id": 3}})
    assert result.counts == {"missing": 1, "extra": 1, "different": 1}
    assert {"kind": "different", "key": {"id": 3}, "columns": ["b"]} in result.sample
    assert "9" not in repr(result.as_dict()["sample"])


def test_a_matching_chunk_is_not_diffed() -> None:
    """Equal checksums end the comparison: no row-level work for a chunk that matches."""
    rows = {"k1": {"a": "1"}, "k2": {"a": "2"}}
    outcome = compare_chunk(0, rows, dict(reversed(list(rows.items()))))
    assert outcome.matches and outcome.diffs == ()


def test_only_rows_v1_left_alone_between_two_reads_are_confirmed() -> None:
    """In flight: parked, V2 version past the read, or V1 changed the row (xmin) or its expectation."""
    diffs = [
        RowDiff(Kind.DIFFERENT, "old", ("a",)),
        RowDiff(Kind.MISSING, "newer"),
        RowDiff(Kind.EXTRA, "parked"),
        RowDiff(Kind.DIFFERENT, "hot", ("a",)),
        RowDiff(Kind.EXTRA, "gone"),
    ]
    first = {"old": (("t:1",), {"a": "1"}), "newer": (("t:2",), {"a": "1"}), "hot": (("t:3",), {"a": "1"})}
    second = {"old": (("t:1",), {"a": "1"}), "newer": (("t:2",), {"a": "1"}), "hot": (("t:4",), {"a": "2"})}
    stable = unchanged_in_v1(first, second)
    assert stable == {"old", "newer"}  # "gone": absent from both reads counts as unchanged
    stable |= {"gone", "parked"}
    confirmed, in_flight = split_in_flight(
        diffs, versions={"old": 100, "newer": 201}, parked={"parked"}, read_lsn=200, stable=stable
    )
    assert sorted(d.key for d in confirmed) == ["gone", "old"]
    assert sorted(d.key for d in in_flight) == ["hot", "newer", "parked"]


def test_expected_rows_carry_the_versions_of_their_v1_rows(mapping: Mapping) -> None:
    """A merged row's stamp names every V1 row it comes from, so a change to any of them is seen."""
    engine = MappingEngine(mapping)
    rows = map_source_rows(
        engine,
        "owners",
        [("owners", {"id": 1, "name": "a"}), ("old_owners", {"id": 1, "name": "b"})],
        ["10", "11"],
    )
    assert rows[canonical_key((1,))].stamp == ("owners:10", "old_owners:11")
    assert rows[canonical_key((1,))].values == {"id": 1, "name": "b", "archived": True}
