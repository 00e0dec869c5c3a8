"""Foreign-key resolution: canonical keys, parent references and the apply/park/orphan decision."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicator.errors import ConfigError
from replicator.mapping.engine import Delete, Upsert
from replicator.mapping.model import Mapping, OnOrphan, parse_mapping
from replicator.pipeline.deadletter import DeadLetterReason
from replicator.pipeline.fk import (
    Apply,
    DeadLetter,
    Drop,
    FkGraph,
    Orphan,
    Park,
    SetNull,
    canonical_key,
    decide,
    decide_delete,
    parent_refs,
    row_id,
)

SECOND = 1_000_000


def _table(name: str, *columns: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": name,
        "target": name,
        "key": ["id"],
        "columns": {"id": "id"} | {c: c for c in columns},
    }


MAPPING_DOC: dict[str, Any] = {
    "version": 1,
    "defaults": {"on_orphan": "dead_letter", "park_timeout": "30s"},
    "tables": [
        _table("networks", "name"),
        _table("offices", "network_id", "name"),
        _table("teams", "office_id", "lead_agent_id"),
        _table("agents", "team_id", "mentor_agent_id", "name"),
        _table("notes", "agent_id", "office_id"),
    ],
    "relationships": [
        {
            "name": "offices_network",
            "table": "offices",
            "columns": ["network_id"],
            "references": "networks",
            "ref_columns": ["id"],
        },
        {
            "name": "teams_office",
            "table": "teams",
            "columns": ["office_id"],
            "references": "offices",
            "ref_columns": ["id"],
            "on_orphan": "set_null",
        },
        {
            "name": "teams_lead",
            "table": "teams",
            "columns": ["lead_agent_id"],
            "references": "agents",
            "ref_columns": ["id"],
            "on_orphan": "set_null",
            "park_timeout": "2m",
        },
        {
            "name": "agents_team",
            "table": "agents",
            "columns": ["team_id"],
            "references": "teams",
            "ref_columns": ["id"],
            "on_orphan": "set_null",
            "park_timeout": "2m",
        },
        {
            "name": "agents_mentor",
            "table": "agents",
            "columns": ["mentor_agent_id"],
            "references": "agents",
            "ref_columns": ["id"],
            "on_orphan": "set_null",
        },
        {
            "name": "notes_agent",
            "table": "notes",
            "columns": ["agent_id"],
            "references": "agents",
            "ref_columns": ["id"],
            "on_orphan": "drop",
        },
        {
            "name": "notes_office",
            "table": "notes",
            "columns": ["office_id"],
            "references": "offices",
            "ref_columns": ["id"],
        },
    ],
}


def mapping() -> Mapping:
    return parse_mapping(MAPPING_DOC)


GRAPH = FkGraph(mapping())


def up(table: str, id_: int, **values: object) -> Upsert:
    return Upsert(table, table, (id_,), {"id": id_, **values}, frozenset())


def rid(table: str, id_: int) -> tuple[str, str]:
    return row_id(table, (id_,))


KEY_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.uuids(),
    st.binary(max_size=8),
    st.dates(),
    st.datetimes(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)


def _pg_equal(a: object, b: object) -> bool:
    """Key equality as PostgreSQL sees it for one column type (the only collisions canonical_key allows)."""
    if type(a) is not type(b):
        return {type(a), type(b)} == {str, uuid.UUID} and str(a) == str(b)
    return a == b


# ---------------------------------------------------------------- canonical_key


@given(st.lists(KEY_VALUES, max_size=3))
def test_canonical_key_is_deterministic(values: list[object]) -> None:
    """The same key tuple always yields the same text."""
    assert canonical_key(tuple(values)) == canonical_key(tuple(values))


@given(st.lists(KEY_VALUES, max_size=3), st.lists(KEY_VALUES, max_size=3))
def test_canonical_key_is_injective(a: list[object], b: list[object]) -> None:
    """Two keys get the same text only if PostgreSQL would see them as the same key."""
    if canonical_key(tuple(a)) == canonical_key(tuple(b)):
        assert len(a) == len(b) and all(_pg_equal(x, y) for x, y in zip(a, b, strict=True))


def test_canonical_key_tells_types_apart() -> None:
    """An int key and its text are different rows, as are None and the string 'null'."""
    assert canonical_key((1,)) != canonical_key(("1",))
    assert canonical_key((None,)) != canonical_key(("null",))
    assert canonical_key((True,)) != canonical_key((1,))


def test_canonical_key_matches_debezium_text_and_psycopg_values() -> None:
    """A uuid sent as text by Debezium and read back as UUID, and one instant in two zones, name one row."""
    u = uuid.uuid4()
    assert canonical_key((u,)) == canonical_key((str(u),))
    utc = dt.datetime(2024, 3, 10, 7, 0, tzinfo=dt.UTC)
    ny = utc.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert canonical_key((utc,)) == canonical_key((ny,))
    assert canonical_key((Decimal("1.50"),)) == canonical_key((Decimal("1.5"),))


def test_canonical_key_rejects_unkeyable_types() -> None:
    """A value no key column can hold is a programming error, not a silent collision."""
    with pytest.raises(TypeError, match="dict"):
        canonical_key(({"a": 1},))


# ---------------------------------------------------------------- graph and refs


def test_graph_ranks_parents_before_children_and_shares_a_rank_in_a_cycle() -> None:
    """Topological rank puts parents first; teams ↔ agents (a cycle) share one rank."""
    rank = GRAPH.rank
    assert rank["networks"] < rank["offices"] < rank["teams"] < rank["notes"]
    assert rank["teams"] == rank["agents"]


def test_graph_rejects_a_reference_to_non_key_columns() -> None:
    """A relationship must reference the parent's key; otherwise start-up names the field."""
    doc = {**MAPPING_DOC, "relationships": [{**MAPPING_DOC["relationships"][0], "ref_columns": ["name"]}]}
    with pytest.raises(ConfigError) as err:
        FkGraph(parse_mapping(doc))
    assert err.value.field == "relationships[0].ref_columns"


def test_parent_refs_lists_non_null_references_only() -> None:
    """Null FK columns and FK columns left out of the upsert (unchanged TOAST) are not references."""
    refs = parent_refs(up("teams", 1, office_id=7, lead_agent_id=None), GRAPH)
    assert [(r.relationship, r.table, r.key) for r in refs] == [("teams_office", "offices", (7,))]
    toast = Upsert("teams", "teams", (1,), {"id": 1, "lead_agent_id": 3}, frozenset({"office_id"}))
    assert [r.relationship for r in parent_refs(toast, GRAPH)] == ["teams_lead"]


def test_parent_refs_treats_a_self_reference_to_the_row_itself_as_satisfied() -> None:
    """An agent who is their own mentor needs no other row; a different mentor is a reference."""
    assert parent_refs(up("agents", 5, mentor_agent_id=5), mapping()) == []
    assert [r.key for r in parent_refs(up("agents", 5, mentor_agent_id=6), GRAPH)] == [(6,)]


# ---------------------------------------------------------------- decide

OFFICE = up("offices", 1, network_id=9, name="x")


def _decide(change: Upsert, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "existing_parents": frozenset(),
        "now_us": 100 * SECOND,
        "parked_since_us": None,
        "policies": GRAPH.policies,
    }
    args.update(kw)
    return decide(change, parent_refs(change, GRAPH), **args)


def test_decide_applies_when_every_parent_is_present() -> None:
    """A parent in V2 or written earlier in the batch lets the child apply."""
    assert _decide(OFFICE, existing_parents={rid("networks", 9)}) == Apply(OFFICE)
    assert _decide(OFFICE, applied_in_batch={rid("networks", 9)}) == Apply(OFFICE)


def test_decide_parks_a_child_whose_parent_has_not_arrived() -> None:
    """A missing parent parks the child until the relationship's timeout from when it was first parked."""
    decision = _decide(OFFICE)
    assert isinstance(decision, Park)
    assert decision.waiting_for == {rid("networks", 9)}
    assert decision.deadline_us == 130 * SECOND
    assert decision.check_v1 == ()
    again = _decide(OFFICE, parked_since_us=90 * SECOND)
    assert isinstance(again, Park) and again.deadline_us == 120 * SECOND


def test_decide_asks_v1_after_the_timeout_before_orphaning() -> None:
    """After the timeout the child stays parked until a V1 lookup has answered for its parent."""
    decision = _decide(OFFICE, parked_since_us=0)
    assert isinstance(decision, Park)
    assert [r.id for r in decision.check_v1] == [rid("networks", 9)]


def test_decide_keeps_parking_when_the_parent_exists_in_v1() -> None:
    """A parent that exists in V1 but has not reached V2 is late, not orphaned: keep parking, say so."""
    decision = _decide(OFFICE, parked_since_us=0, v1_presence={rid("networks", 9): True})
    assert isinstance(decision, Park)
    assert [r.id for r in decision.waiting_in_v1] == [rid("networks", 9)] and decision.check_v1 == ()
    # Checked again one timeout from now: a deadline left in the past would put the item first in every
    # sweep, so the sweep would look at the same items forever and never reach the rest.
    assert decision.deadline_us == 100 * SECOND + 30 * SECOND


def test_decide_never_orphans_before_the_timeout() -> None:
    """Even a parent confirmed absent in V1 does not orphan the child before its timeout."""
    decision = _decide(OFFICE, parked_since_us=90 * SECOND, v1_presence={rid("networks", 9): False})
    assert isinstance(decision, Park)


def test_decide_dead_letters_an_orphan_under_the_dead_letter_policy() -> None:
    """Timeout expired and parent absent in V1: dead-letter with ORPHAN_FK naming the parent."""
    decision = _decide(OFFICE, parked_since_us=0, v1_presence={rid("networks", 9): False})
    assert isinstance(decision, Orphan) and isinstance(decision.action, DeadLetter)
    assert decision.action.reason is DeadLetterReason.ORPHAN_FK
    assert decision.action.missing_ref == 'offices_network → networks[["i","9"]]'


def test_decide_sets_null_the_orphaned_columns_under_set_null() -> None:
    """set_null applies the upsert with the orphaned FK column NULL and the rest unchanged."""
    team = up("teams", 2, office_id=7, lead_agent_id=None)
    decision = _decide(team, parked_since_us=0, v1_presence={rid("offices", 7): False})
    assert isinstance(decision, Orphan) and isinstance(decision.action, SetNull)
    assert decision.action.columns == ("office_id",)
    assert decision.action.change.values == {"id": 2, "office_id": None, "lead_agent_id": None}


def test_decide_set_null_waits_while_another_parent_is_still_pending() -> None:
    """set_null is applied only once every missing parent is orphaned; until then the row stays parked."""
    team = up("teams", 2, office_id=7, lead_agent_id=8)
    now = 100 * SECOND  # office timeout (30 s) expired, lead agent (2 min) not yet
    decision = _decide(team, now_us=now, parked_since_us=0, v1_presence={rid("offices", 7): False})
    assert isinstance(decision, Park)


def test_decide_dead_letter_wins_over_drop_and_set_null() -> None:
    """With several orphaned refs the safest policy wins: dead_letter, then drop."""
    note = up("notes", 1, agent_id=4, office_id=5)
    absent = {rid("agents", 4): False, rid("offices", 5): False}
    decision = _decide(note, parked_since_us=0, v1_presence=absent)
    assert isinstance(decision, Orphan) and isinstance(decision.action, DeadLetter)
    decision = _decide(note, parked_since_us=0, v1_presence=absent, existing_parents={rid("offices", 5)})
    assert isinstance(decision, Orphan) and isinstance(decision.action, Drop)


@given(
    present=st.lists(st.booleans(), min_size=2, max_size=2),
    since=st.integers(0, 200),
    v1=st.lists(st.sampled_from([None, True, False]), min_size=2, max_size=2),
)
def test_decide_orphans_only_expired_refs_confirmed_absent(
    present: list[bool], since: int, v1: list[Any]
) -> None:
    """Orphan outcomes need an expired timeout and a parent confirmed absent in V1; else apply or park."""
    note = up("notes", 1, agent_id=4, office_id=5)
    ids = [rid("agents", 4), rid("offices", 5)]
    presence = {i: v for i, v in zip(ids, v1, strict=True) if v is not None}
    existing = {i for i, p in zip(ids, present, strict=True) if p}
    now = 100 * SECOND
    decision = _decide(
        note, existing_parents=existing, now_us=now, parked_since_us=since * SECOND, v1_presence=presence
    )
    if all(present):
        assert isinstance(decision, Apply)
    elif isinstance(decision, Orphan):
        assert now - since * SECOND >= 30 * SECOND
        assert any(presence.get(r.id) is False and r.id not in existing for r in decision.refs)
    else:
        assert isinstance(decision, Park)
        assert decision.waiting_for == set(ids) - existing


def test_decide_delete_waits_for_children_then_dead_letters() -> None:
    """A parent delete waits while V2 children reference it and is dead-lettered after the timeout."""
    delete = Delete("offices", "offices", (1,))
    assert decide_delete(delete, frozenset(), now_us=0, parked_since_us=None, timeout_us=1) == Apply(delete)
    child = rid("teams", 3)
    parked = decide_delete(delete, frozenset({child}), now_us=0, parked_since_us=None, timeout_us=30 * SECOND)
    assert isinstance(parked, Park) and parked.waiting_for == {child}
    late = decide_delete(
        delete, frozenset({child}), now_us=31 * SECOND, parked_since_us=0, timeout_us=30 * SECOND
    )
    assert isinstance(late, Orphan) and isinstance(late.action, DeadLetter)
    assert "teams" in late.action.missing_ref


def test_policies_come_from_the_mapping() -> None:
    """Per-relationship orphan policy and park timeout fall back to the mapping defaults."""
    assert GRAPH.policies["offices_network"].on_orphan is OnOrphan.DEAD_LETTER
    assert GRAPH.policies["offices_network"].park_timeout_us == 30 * SECOND
    assert GRAPH.policies["teams_lead"].park_timeout_us == 120 * SECOND
    assert GRAPH.delete_timeout_us("agents") == 120 * SECOND


@given(st.lists(st.integers(), min_size=1, max_size=3))
def test_canonical_key_of_integers_is_the_general_spelling(values: list[int]) -> None:
    """The integer fast path spells a key exactly as the general (orjson) path does: stored keys match."""
    assert canonical_key(tuple(values)) == orjson.dumps([["i", str(v)] for v in values]).decode()
