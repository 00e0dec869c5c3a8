"""The load's present-parents lane (``Processor._present_lane``, ``V2Store.upsert_present``) on the real
stack: it writes what the resolver would have called ready and nothing else. Each test holds one of its
conditions: the outcome equals the resolver's, a child parked for a row it writes is released, a row
with a newer version is not overwritten, a row twice in a batch is not written twice, and V2 is asked
by index probes of the parent, whatever the parent's size."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from replicator.demo.load import SCHEMAS_DIR
from replicator.load.records import RecordBuilder
from replicator.load.share import without_park_timeouts
from replicator.load.source import read_table
from replicator.mapping.catalog import Catalog, read_catalog
from replicator.mapping.model import Mapping, load_mapping
from replicator.pipeline.fk import FkGraph
from replicator.settings import Settings
from replicator.sink.statements import create_stage, take_absent_parents
from replicator.sink.store import V2Store
from replicator.stack.manager import Stack
from replicator.worker.processor import Header, Processor
from tests.support.processor import seeded_catalogs, stack_processor

pytestmark = [pytest.mark.integration]

FIRST_ID = 993_001
"""New V1/V2 ids for this module's rows: far above the seed's."""
ABSENT_LISTING = 993_999
"""A listing in neither V1 nor V2."""


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[tuple[Settings, Mapping, tuple[Catalog, Catalog]]]:
    settings = stack.settings
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    yield settings, mapping, seeded_catalogs(settings, mapping, 0.01)
    _forget(settings)


def _forget(settings: Settings) -> None:
    """This module's rows out of V2, and whatever they left parked or versioned."""
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        v2.execute("DELETE FROM public.listing_media WHERE id >= %s", [FIRST_ID])
        v2.execute("DELETE FROM public.listings WHERE id >= %s", [FIRST_ID])
        v2.execute("DELETE FROM public.users WHERE id >= %s", [FIRST_ID])
        v2.execute("DELETE FROM replicator.parked")
        v2.execute("DELETE FROM replicator.row_version WHERE tbl IN ('listings', 'listing_media', 'users')")


def _v1_rows(settings: Settings, catalog: Catalog, table: str, n: int) -> list[dict[str, Any]]:
    entry = catalog.table(table)
    assert entry is not None
    with psycopg.connect(settings.v1_replication.conninfo()) as v1:
        return [dict(r) for r in next(read_table(v1, "public", entry, batch_rows=n))]


def _listing_in_v2(settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """A V1 listing that V2 holds too (so V2 holds its parents)."""
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        held = {r[0] for r in v2.execute("SELECT id FROM public.listings")}
    return next(r for r in _v1_rows(settings, catalog, "listings", 500) if r["id"] in held)


def _builder(catalog: Catalog, table: str, lsn: int = 1) -> RecordBuilder:
    entry = catalog.table(table)
    assert entry is not None
    return RecordBuilder(
        entry, schema="public", topic=f"v1.public.{table}", connector="v1", lsn=lsn, taken_us=1
    )


def _processor(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
    sent: list[tuple[bytes | None, bytes | None, list[Header]]],
    *,
    load: bool = True,
    record_versions: bool = False,
    lane: bool = True,
) -> Processor:
    settings, mapping, catalogs = world
    return stack_processor(
        settings,
        without_park_timeouts(mapping) if load else mapping,
        catalogs,
        sent.extend,
        record_versions=record_versions,
        wait_when_refused=False,
        present_lane=lane and not record_versions,
    )


def _media_state(settings: Settings) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        return v2.execute(
            "SELECT * FROM public.listing_media WHERE id >= %s ORDER BY id", [FIRST_ID]
        ).fetchall()


def _without_and_with_lane(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
    table: str,
    rows: list[dict[str, Any]],
    state: Callable[[], object],
) -> list[tuple[dict[str, int], int, object]]:
    """``rows`` of V1 ``table`` applied by a loading processor without the lane, then (V2 as before)
    with it: each time the books, the dead letters sent and ``state()`` afterwards."""
    settings, _mapping, (v1_catalog, _v2) = world
    outcomes = []
    for lane in (False, True):
        _forget(settings)
        sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
        processor = _processor(world, sent, lane=lane)
        try:
            result = processor.process_rows(_builder(v1_catalog, table).sources(rows))
        finally:
            processor.close()
        outcomes.append((result.ledger.totals(), len(sent), state()))
    return outcomes


def test_the_lane_ends_where_the_resolver_ends(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """Photos of a listing V2 holds and of one nobody holds (an orphan: its policy): the same V2 rows,
    books and dead letters with the lane as without it."""
    settings, _mapping, (v1_catalog, _v2) = world
    listing = _listing_in_v2(settings, v1_catalog)
    photos = _v1_rows(settings, v1_catalog, "listing_photos", 4)
    for n, photo in enumerate(photos):
        photo["id"] = FIRST_ID + n
        photo["listing_id"] = ABSENT_LISTING if n == 1 else listing["id"]
    outcomes = _without_and_with_lane(world, "listing_photos", photos, lambda: _media_state(settings))
    assert outcomes[0][0].get("applied") == 3, outcomes[0]
    assert outcomes[1] == outcomes[0]


def test_rows_referencing_rows_of_their_own_batch_end_where_the_resolver_ends(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """A referral chain three users long in one batch (written in rounds), a user referred by a user
    nobody holds (set null, by the resolver) and one referred by itself: as without the lane."""
    settings, _mapping, (v1_catalog, _v2) = world
    base = _v1_rows(settings, v1_catalog, "users", 1)[0]
    ids = [FIRST_ID + 50 + n for n in range(5)]
    referred = [None, ids[0], ids[1], ABSENT_LISTING, ids[4]]
    users = [
        dict(base, id=i, email=f"lane.{i}@example.com", referred_by_user_id=r)
        for i, r in zip(ids, referred, strict=True)
    ]

    def state() -> list[tuple[Any, ...]]:
        with psycopg.connect(settings.v2_admin.conninfo()) as v2:
            return v2.execute(
                "SELECT id, referred_by_user_id FROM public.users WHERE id >= %s ORDER BY id", [FIRST_ID]
            ).fetchall()

    outcomes = _without_and_with_lane(world, "users", users, state)
    assert outcomes[0][2] == [
        (i, None if r == ABSENT_LISTING else r) for i, r in zip(ids, referred, strict=True)
    ]
    assert outcomes[1] == outcomes[0]


def test_a_child_parked_for_a_row_the_lane_writes_is_released_with_it(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """The photo arrives first and parks (its listing is in neither database yet); the listing then comes
    through the lane's batch, which must release the photo in the same batch, as the resolver does."""
    settings, _mapping, (v1_catalog, _v2) = world
    _forget(settings)
    listing = dict(_listing_in_v2(settings, v1_catalog), id=FIRST_ID + 10)
    photo = dict(
        _v1_rows(settings, v1_catalog, "listing_photos", 1)[0], id=FIRST_ID + 11, listing_id=listing["id"]
    )
    sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
    streaming = _processor(world, sent, load=False)  # the demo's park timeouts: the photo waits
    try:
        parked = streaming.process_rows(_builder(v1_catalog, "listing_photos").sources([photo]))
        assert parked.ledger.totals().get("parked") == 1, parked.ledger.totals()
        result = streaming.process_rows(_builder(v1_catalog, "listings").sources([listing]))
    finally:
        streaming.close()
    totals = result.ledger.totals()
    assert totals.get("released") == 1 and totals.get("applied") == 2, totals
    assert [r[0] for r in _media_state(settings)] == [photo["id"]]


def test_the_lane_never_writes_over_a_newer_version_of_a_row(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """A streamed change stored the row's version; an older load row of it is skipped, not written."""
    settings, _mapping, (v1_catalog, _v2) = world
    _forget(settings)
    listing = dict(_listing_in_v2(settings, v1_catalog), id=FIRST_ID + 20)
    sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
    streamed = _processor(world, sent, record_versions=True)
    loading = _processor(world, sent)
    try:
        newer = dict(listing, list_price_cents=111_111_00)
        streamed.process_rows(_builder(v1_catalog, "listings", lsn=100).sources([newer]))
        older = dict(listing, list_price_cents=222_222_00)
        result = loading.process_rows(_builder(v1_catalog, "listings", lsn=1).sources([older]))
    finally:
        streamed.close()
        loading.close()
    assert result.ledger.totals().get("skipped_stale") == 1, result.ledger.totals()
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        price = v2.execute("SELECT list_price FROM public.listings WHERE id = %s", [listing["id"]]).fetchone()
    assert price is not None and float(price[0]) == 111_111.0


def test_a_row_twice_in_a_batch_is_left_to_the_resolver(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """Two changes of one V2 row in a lane batch: one INSERT … ON CONFLICT cannot write a row twice."""
    settings, _mapping, (v1_catalog, _v2) = world
    _forget(settings)
    listing = _listing_in_v2(settings, v1_catalog)
    photo = dict(
        _v1_rows(settings, v1_catalog, "listing_photos", 1)[0], id=FIRST_ID + 31, listing_id=listing["id"]
    )
    records = _builder(v1_catalog, "listing_photos").sources(
        [photo, dict(photo, url="https://example.com/b")]
    )
    sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
    processor = _processor(world, sent)
    try:
        result = processor.process_rows(records)
    finally:
        processor.close()
    assert result.ledger.totals().get("consumed") == 2, result.ledger.totals()
    assert len(_media_state(settings)) == 1


def test_v2_is_asked_by_a_probe_of_the_parent_per_reference(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """A batch's distinct references are probed one by one (in the parent's key index, once the parent is
    larger than this test's): an anti-join, which the planner picks for a staging table it has no
    statistics of, reads the whole parent for every batch (6 ms against 0.2 ms for 30 rows and a
    14,500-row parent on the demo at scale 1.0), hours of it for a parent of millions of rows."""
    settings, mapping, _catalogs = world
    graph = FkGraph(mapping)
    ((relationship, _order),) = graph.relationships_for("listing_media")
    statement = take_absent_parents(
        "public",
        "listing_media",
        columns=relationship.columns,
        parent=relationship.references,
        parent_columns=relationship.ref_columns,
        key=graph.keys["listing_media"],
    )
    with psycopg.connect(settings.v2_writer.conninfo()) as v2:
        v2.execute(create_stage("public", "listing_media"))
        v2.execute("INSERT INTO _stage_listing_media SELECT * FROM public.listing_media LIMIT 30")
        plan = "\n".join(r[0] for r in v2.execute("EXPLAIN " + statement))
        v2.rollback()
    assert "Anti Join" not in plan, plan  # the parent read whole, once per batch
    assert "SubPlan" in plan, plan  # a probe per distinct reference: the key index once the parent is large


def test_the_store_writes_the_rows_whose_parent_is_in_v2_and_returns_the_others(
    world: tuple[Settings, Mapping, tuple[Catalog, Catalog]],
) -> None:
    """Not left to V2's own foreign key: its violation would roll the whole lane back and send every row
    the long way, correct but never faster."""
    settings, mapping, (_v1, v2_catalog) = world
    _forget(settings)
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        row = v2.execute("SELECT * FROM public.listing_media LIMIT 1").fetchone()
        assert row is not None
        names = [c.name for c in v2.execute("SELECT * FROM public.listing_media LIMIT 0").description or ()]
    present = dict(zip(names, row, strict=True)) | {"id": FIRST_ID + 40}
    orphan = present | {"id": FIRST_ID + 41, "listing_id": ABSENT_LISTING}
    with psycopg.connect(settings.v2_writer.conninfo()) as v2:
        store = V2Store(v2, v2_catalog, FkGraph(mapping), record_versions=False)
        rows = [orphan, present, present | {"id": FIRST_ID + 42}]
        assert store.upsert_present("listing_media", rows) == {0}
        v2.commit()
    assert [r[0] for r in _media_state(settings)] == [FIRST_ID + 40, FIRST_ID + 42]


KEYED = """
version: 1
tables:
  - {name: lane_parent, source: lane_parent, target: lane_parent, key: [id], columns: {id: id}}
  - name: lane_child
    source: lane_child
    target: lane_child
    key: [id]
    columns: {id: id, parent_id: parent_id}
relationships:
  - name: lane_child_parent
    table: lane_child
    columns: [parent_id]
    references: lane_parent
    ref_columns: [id]
    on_orphan: drop
"""


@pytest.mark.parametrize(
    ("v2_key", "v2_reference"),
    [
        ("integer", "integer REFERENCES lane_parent"),
        ("numeric", "integer REFERENCES lane_parent"),
        ("integer", "text"),
    ],
    ids=["same-types", "key-read-into-numeric", "undeclared-reference-in-text"],
)
def test_types_that_differ_never_lose_a_row_or_stop_the_load(
    stack: Stack, tmp_path: Path, v2_key: str, v2_reference: str
) -> None:
    """V1's integer key read into V2's numeric: the keys V2 returns for the rows it holds back (an orphan
    here) are spelt differently from the mapped ones, so the store cannot say which row they were; the
    lane must undo itself then, not count the orphan as written. A relationship V2 does not declare,
    kept in text against an integer key, has no equality in V2 at all: the lane must not ask. Either
    way the resolver decides: the orphan dropped by its policy, exactly as with matching types."""
    settings = stack.settings
    ddl = {
        "v1": "CREATE TABLE lane_parent (id integer PRIMARY KEY);"
        " CREATE TABLE lane_child (id integer PRIMARY KEY, parent_id integer)",
        "v2": "CREATE TABLE lane_parent (id integer PRIMARY KEY);"
        f" CREATE TABLE lane_child (id {v2_key} PRIMARY KEY, parent_id {v2_reference})",
    }
    connections = {"v1": settings.v1_admin.conninfo(), "v2": settings.v2_admin.conninfo()}
    for side, conninfo in connections.items():
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS lane_child, lane_parent")
            conn.execute(ddl[side].encode())
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON lane_parent, lane_child TO {settings.v2_writer.user}"
        )
        v2.execute("INSERT INTO lane_parent VALUES (1)")
    path = tmp_path / "mapping.yaml"
    path.write_text(KEYED)
    mapping = load_mapping(path)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        catalogs = (read_catalog(v1, "public"), read_catalog(v2, "public"))
    sent: list[tuple[bytes | None, bytes | None, list[Header]]] = []
    processor = stack_processor(
        settings,
        without_park_timeouts(mapping),
        catalogs,
        sent.extend,
        record_versions=False,
        wait_when_refused=False,  # as the load: a statement V2 refuses stops it
        present_lane=True,
    )
    try:
        rows = [{"id": 1, "parent_id": 1}, {"id": 2, "parent_id": 404}]
        result = processor.process_rows(_builder(catalogs[0], "lane_child").sources(rows))
    finally:
        processor.close()
    totals = result.ledger.totals()
    assert totals.get("applied") == 1 and totals.get("orphan_dropped") == 1, totals
    with psycopg.connect(settings.v2_admin.conninfo()) as v2:
        assert [int(r[0]) for r in v2.execute("SELECT id FROM lane_child ORDER BY id")] == [1]
    for conninfo in connections.values():
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE lane_child, lane_parent")
