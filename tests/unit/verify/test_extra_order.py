"""The order ``repair extra`` removes tables in (pure)."""

from __future__ import annotations

from replicator.mapping.model import load_mapping
from replicator.stack.layout import REPO_ROOT
from replicator.verify.extra import children_first


def test_a_child_table_goes_before_the_tables_it_references() -> None:
    parents = {"listing_media": ("listings",), "listings": ("offices",), "offices": ()}
    assert children_first(parents, ["offices", "listings", "listing_media"]) == [
        "listing_media",
        "listings",
        "offices",
    ]


def test_a_reference_cycle_and_a_self_reference_do_not_stall_it() -> None:
    parents = {"teams": ("agents",), "agents": ("agents", "teams"), "users": ()}
    order = children_first(parents, ["agents", "teams", "users"])
    assert sorted(order) == ["agents", "teams", "users"]


def test_in_the_demo_every_child_goes_before_its_parents_outside_cycles() -> None:
    mapping = load_mapping(REPO_ROOT / "schemas" / "mapping.yaml")
    parents = mapping.parents()
    order = children_first(parents, list(mapping.target_tables()))
    assert sorted(order) == sorted(mapping.target_tables())
    position = {t: i for i, t in enumerate(order)}
    for child, refs in parents.items():
        for parent in refs:
            if parent != child and child not in parents.get(parent, ()):
                assert position[child] < position[parent], (child, parent)
