"""The scenario's figures and the schema files agree with the migration epic and with each other."""

from __future__ import annotations

import re

import pytest
import yaml

from replicator.demo import spec
from replicator.demo.generate import COLUMNS
from replicator.demo.load import SCHEMAS_DIR, split_schema
from replicator.mapping.model import Mapping, OnOrphan


def test_epic_figures_at_scale_one() -> None:
    """At scale 1.0 the spec holds the epic's numbers (32 FKs, 26 orphaned, 1,022 orphans, 47,121 missing)."""
    assert len(spec.RELATIONSHIPS) == 32
    assert sum(1 for r in spec.RELATIONSHIPS if r.orphans) == 26
    assert sum(spec.orphans().values()) == 1_022
    assert spec.missing_in_v2() == {
        "audit_logs": 45_600,
        "customer_metadata": 1_200,
        "transaction_logs": 25,
        "archived_users": 296,
    }
    assert sum(spec.missing_in_v2().values()) == 47_121
    assert spec.v1_rows()["audit_logs"] == 48_600
    assert round(sum(spec.v1_rows().values()), -3) == 296_000
    assert round(sum(spec.v2_rows().values()), -3) == 249_000


@pytest.mark.parametrize("scale", [0.001, 0.02, 0.1, 0.5, 2.0])
def test_scaled_figures_keep_the_shape(scale: float) -> None:
    """At any scale each orphaned relationship keeps an orphan and each partly migrated table a gap."""
    orphans = spec.orphans(scale)
    assert sum(1 for n in orphans.values() if n) == 26
    assert all(n >= 1 for n in spec.missing_in_v2(scale).values())
    assert all(n >= 1 for n in spec.v1_rows(scale).values())
    assert spec.missing_in_v2(scale)["archived_users"] == spec.v1_rows(scale)["archived_users"]


def test_scaled_rounds_half_up() -> None:
    """Scaling rounds half up and never turns a non-zero figure into zero."""
    assert spec.scaled(25, 0.02) == 1
    assert spec.scaled(250, 0.01) == 3
    assert spec.scaled(1_200, 0.02) == 24
    assert spec.scaled(0, 5.0) == 0


def test_bad_scale_is_rejected() -> None:
    """A zero, negative or non-finite scale is refused with the value named."""
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale"):
            spec.v1_rows(bad)


def test_mapping_declares_the_spec_relationships(mapping: Mapping) -> None:
    """The mapping declares exactly the spec's 32 relationships, with the same columns and policies."""
    declared = {r.name: r for r in mapping.relationships}
    assert set(declared) == {r.name for r in spec.RELATIONSHIPS}
    for rel in spec.RELATIONSHIPS:
        got = declared[rel.name]
        assert (got.table, got.columns, got.references, got.ref_columns) == (
            rel.v2_table,
            (rel.v2_column,),
            _v2_name(rel.references),
            ("id",),
        )
        assert mapping.on_orphan_for(got).value == rel.policy.value


def test_orphan_policies_are_consistent_with_v2_nullability() -> None:
    """set_null is used only on nullable columns, and every nullable orphaned relationship is set_null."""
    for rel in spec.RELATIONSHIPS:
        if rel.policy is spec.Policy.SET_NULL:
            assert rel.nullable, rel.name
        if rel.orphans and rel.nullable:
            assert rel.policy is spec.Policy.SET_NULL, rel.name
        if rel.orphans and not rel.nullable:
            assert rel.table in spec.MISSING_IN_V2, rel.name
    assert {p.value for p in spec.Policy} == {p.value for p in OnOrphan}
    assert {r.policy for r in spec.RELATIONSHIPS if r.orphans} == set(spec.Policy)


def _create_tables(sql_text: str) -> dict[str, list[tuple[str, str]]]:
    """CREATE TABLE name → [(column, rest of its line)] from a schema file (one column per line)."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for match in re.finditer(r"CREATE TABLE (\w+) \((.*?)\n\);", sql_text, re.S):
        cols = []
        for line in match.group(2).splitlines():
            m = re.match(r"\s+([a-z_0-9]+)\s+(.*)", line)
            if (
                m
                and m.group(1) not in {"constraint"}
                and not line.strip().startswith(("CONSTRAINT", "CHECK"))
            ):
                cols.append((m.group(1), m.group(2)))
        tables[match.group(1)] = cols
    return tables


def _v2_name(v1_table: str) -> str:
    return {"listing_photos": "listing_media", "archived_users": "users"}.get(v1_table, v1_table)


def test_generator_columns_match_the_v1_schema() -> None:
    """The generator's column lists are the V1 schema's columns, in table-definition order."""
    tables = _create_tables((SCHEMAS_DIR / "v1" / "schema.sql").read_text())
    assert {t: tuple(c for c, _ in cols) for t, cols in tables.items()} == COLUMNS
    assert list(tables) == list(spec.V1_ROWS)


def test_v1_declares_only_the_clean_relationships() -> None:
    """V1 enforces only the five clean relationships it has; the other 26 are plain columns."""
    post = split_schema((SCHEMAS_DIR / "v1" / "schema.sql").read_text())[1]
    declared = set(re.findall(r"ALTER TABLE (\w+) ADD CONSTRAINT \w+\s+FOREIGN KEY \((\w+)\)", post))
    expected = {(r.table, r.column) for r in spec.RELATIONSHIPS if r.declared_in_v1}
    assert declared == expected
    assert len(declared) == 5
    assert all(r.orphans == 0 for r in spec.RELATIONSHIPS if r.declared_in_v1)


def test_v2_enforces_all_32_relationships() -> None:
    """V2 has one FK per relationship, named like it, nullable exactly where set_null applies."""
    text = (SCHEMAS_DIR / "v2" / "schema.sql").read_text()
    pre, post = split_schema(text)
    fks = re.findall(
        r"ALTER TABLE (\w+) ADD CONSTRAINT (\w+)\s+FOREIGN KEY \((\w+)\) REFERENCES (\w+) \(id\)", post
    )
    assert len(fks) == 32
    by_name = {name: (table, column, parent) for table, name, column, parent in fks}
    tables = {t: dict(cols) for t, cols in _create_tables(pre).items()}
    for rel in spec.RELATIONSHIPS:
        table, column, parent = by_name[rel.name]
        assert (table, column, parent) == (rel.v2_table, rel.v2_column, _v2_name(rel.references))
        definition = tables[table][column]
        assert ("NOT NULL" in definition or "PRIMARY KEY" in definition) is (not rel.nullable), rel.name
    assert post.count("DEFERRABLE") == 1  # only the teams ↔ agents cycle


def test_split_schema_needs_the_marker_line() -> None:
    """A schema file without the post-data marker line is refused rather than loaded without constraints."""
    assert split_schema("CREATE TABLE a ();\n-- replicator:post-data\nALTER TABLE a;\n") == (
        "CREATE TABLE a ();",
        "ALTER TABLE a;\n",
    )
    with pytest.raises(ValueError, match="post-data"):
        split_schema("CREATE TABLE a (); -- replicator:post-data inline is not a marker")


def test_calculations_are_complete_and_ordered() -> None:
    """Each calculation has ordered V1 and V2 queries and declares rounding only for its own columns."""
    doc = yaml.safe_load((SCHEMAS_DIR / "calculations.yaml").read_text())
    calcs = doc["calculations"]
    assert len(calcs) >= 10
    assert len({c["name"] for c in calcs}) == len(calcs)
    for calc in calcs:
        for side in ("v1", "v2"):
            assert "ORDER BY" in calc[side], (calc["name"], side)
            for column in {**calc.get("rounding", {}), **calc.get("tolerance", {})}:
                assert f"AS {column}" in calc[side], (calc["name"], side, column)
