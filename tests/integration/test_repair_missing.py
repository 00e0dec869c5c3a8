"""``replicator repair missing`` on the real pipeline (worker running): V2 rows lost outside replication
(deleted in V2, changed in V2 by hand) are found, written with V1's version, parents before children,
and recorded, until V2 equals V1; a child whose parent V2 lacks is refused and named; and a worker
writing the same rows meanwhile never has its newer version overwritten."""

from __future__ import annotations

import time
from typing import Any

import pytest

from replicator.verify.missing import repair_missing
from tests.support.pipeline import Pipeline, drained_pipeline_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EDITED = " (edited in V2)"


pipeline = drained_pipeline_fixture("repair-missing")


def repair(pipeline: Pipeline, *args: str) -> tuple[int, Any]:
    return pipeline.run_json("repair", "missing", *args)


def by_table(out: dict[str, Any], *fields: str) -> dict[str, tuple[int, ...]]:
    return {t["table"]: tuple(t[f] for f in fields) for t in out["tables"]}


def drop_listing_with_media(pipeline: Pipeline) -> tuple[int, list[int]]:
    """Delete from V2 (only) a listing that only listing_media references, with its media."""
    with pipeline.v2() as v2:
        listing = v2.execute(
            "SELECT l.id FROM listings l"
            " WHERE EXISTS (SELECT 1 FROM listing_media m WHERE m.listing_id = l.id)"
            " AND NOT EXISTS (SELECT 1 FROM showings s WHERE s.listing_id = l.id)"
            " AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.listing_id = l.id)"
            " AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.listing_id = l.id) ORDER BY l.id LIMIT 1"
        ).fetchone()[0]  # type: ignore[index]
        media = v2.execute(
            "DELETE FROM listing_media WHERE listing_id = %s RETURNING id", [listing]
        ).fetchall()
        v2.execute("DELETE FROM listings WHERE id = %s", [listing])
    return int(listing), sorted(int(m[0]) for m in media)


def edit_notes(pipeline: Pipeline, n: int, *, offset: int = 0) -> list[int]:
    with pipeline.v2() as v2:
        rows = v2.execute(
            "UPDATE notes SET body = body || %s WHERE id IN "
            "(SELECT id FROM notes ORDER BY id LIMIT %s OFFSET %s) RETURNING id",
            [EDITED, n, offset],
        ).fetchall()
    return sorted(int(r[0]) for r in rows)


def delete_notes(pipeline: Pipeline, n: int, *, offset: int) -> list[int]:
    with pipeline.v2() as v2:
        rows = v2.execute(
            "DELETE FROM notes WHERE id IN (SELECT id FROM notes ORDER BY id LIMIT %s OFFSET %s)"
            " RETURNING id",
            [n, offset],
        ).fetchall()
    return sorted(int(r[0]) for r in rows)


def note_body(pipeline: Pipeline, note: int, *, v1: bool = False) -> str | None:
    with pipeline.v1() if v1 else pipeline.v2() as conn:
        row = conn.execute("SELECT body FROM notes WHERE id = %s", [note]).fetchone()
    return None if row is None else str(row[0])


def test_missing_and_different_rows_are_written_parents_first_and_recorded(pipeline: Pipeline) -> None:
    listing, media = drop_listing_with_media(pipeline)
    edited = edit_notes(pipeline, 3)
    deleted = delete_notes(pipeline, 2, offset=10)
    assert media and len(edited) == 3 and len(deleted) == 2

    code, out = repair(pipeline, "--dry-run")
    assert code == 0 and out["dry_run"] and out["written"] == 0, out
    assert by_table(out, "missing", "different") == {
        "listings": (1, 0),
        "listing_media": (len(media), 0),
        "notes": (2, 3),
    }
    assert note_body(pipeline, edited[0]).endswith(EDITED)  # type: ignore[union-attr]

    code, out = repair(pipeline)
    assert code == 0, out
    assert by_table(out, "inserted", "overwritten", "skipped") == {
        "listings": (1, 0, 0),
        "listing_media": (len(media), 0, 0),
        "notes": (2, 3, 0),
    }
    assert [t["table"] for t in out["tables"]].index("listings") < [t["table"] for t in out["tables"]].index(
        "listing_media"
    )
    pipeline.assert_v2_is_v1_through_mapping()
    with pipeline.v2() as v2:
        recorded = v2.execute(
            "SELECT tbl, kind, (row_after->>'id')::bigint, row_before->>'body' FROM replicator.repaired_rows"
        ).fetchall()
    assert sorted((t, k, i) for t, k, i, _ in recorded) == sorted(
        [("listings", "missing", listing)]
        + [("listing_media", "missing", m) for m in media]
        + [("notes", "missing", n) for n in deleted]
        + [("notes", "different", n) for n in edited]
    )
    assert all(body.endswith(EDITED) for t, k, _, body in recorded if k == "different")

    code, out = repair(pipeline)
    assert code == 0 and out["found"] == 0, out


def test_a_child_whose_parent_v2_lacks_is_refused_and_named(pipeline: Pipeline) -> None:
    listing, media = drop_listing_with_media(pipeline)
    code, out = repair(pipeline, "--table", "listing_media")
    assert code == 1, out
    (result,) = out["tables"]
    assert (result["missing"], result["inserted"]) == (len(media), 0)
    assert result["blocked"] and all("listing_media_listing" in b and "23503" in b for b in result["blocked"])
    with pipeline.v2() as v2:
        assert v2.execute(
            "SELECT count(*) FROM listing_media WHERE listing_id = %s", [listing]
        ).fetchone() == (0,)

    code, out = repair(pipeline, "--table", "listing_media", "--table", "listings")
    assert code == 0, out
    assert by_table(out, "inserted") == {"listings": (1,), "listing_media": (len(media),)}
    pipeline.assert_v2_is_v1_through_mapping()


def test_a_row_v1_changes_after_the_comparison_gets_v1s_version_read_after_the_lock(
    pipeline: Pipeline,
) -> None:
    """Different when compared; then V1 changes it and the worker applies that. The repair reads V1 again
    under its lock: writing what it compared would put the older body back, and no change would fix it."""
    (note,) = edit_notes(pipeline, 1, offset=20)

    def v1_changes_it(table: str, keys: list[tuple[object, ...]]) -> None:
        assert (table, keys) == ("notes", [(note,)])
        with pipeline.v1() as v1:
            v1.execute("UPDATE notes SET body = 'changed in V1 during the repair' WHERE id = %s", [note])
        pipeline.drained()

    (result,) = repair_missing(
        pipeline.settings, pipeline.mapping, tables=["notes"], after_compare=v1_changes_it
    )
    assert (result.different, result.overwritten) == (1, 1)
    assert note_body(pipeline, note) == "changed in V1 during the repair"
    pipeline.drained()
    pipeline.assert_v2_is_v1_through_mapping()


def test_a_worker_writing_a_locked_row_waits_and_its_newer_version_stays(pipeline: Pipeline) -> None:
    """V1 changes a row after the repair read it: the worker's write of that change waits for the
    repair's lock and lands after it. Without the lock the worker would write first and the repair
    would put V1's older version over it."""
    (note,) = edit_notes(pipeline, 1, offset=30)

    def v1_changes_it_meanwhile(table: str, keys: list[tuple[object, ...]]) -> None:
        with pipeline.v1() as v1:
            v1.execute("UPDATE notes SET body = 'changed in V1 after the read' WHERE id = %s", [note])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the worker reaches the row: it waits for the lock, or wrote it
            if waiting_for_a_lock(pipeline) or note_body(pipeline, note) == "changed in V1 after the read":
                return
            time.sleep(0.1)
        pytest.fail("the worker never reached the row")

    (result,) = repair_missing(
        pipeline.settings, pipeline.mapping, tables=["notes"], after_read=v1_changes_it_meanwhile
    )
    assert (result.different, result.overwritten) == (1, 1)
    pipeline.drained()
    assert note_body(pipeline, note) == note_body(pipeline, note, v1=True) == "changed in V1 after the read"
    pipeline.assert_v2_is_v1_through_mapping()


def test_a_row_a_worker_inserts_between_the_read_and_the_write_is_left_to_it(pipeline: Pipeline) -> None:
    """Missing when compared and when read again; then V1 changes it and the worker inserts the newer
    version before the repair writes. Nothing is locked for a row V2 lacks, so the repair's insert must
    yield to the worker's (overwriting it, the repair would put V1's older version back)."""
    (note,) = delete_notes(pipeline, 1, offset=40)

    def worker_inserts_it_first(table: str, keys: list[tuple[object, ...]]) -> None:
        with pipeline.v1() as v1:
            v1.execute("UPDATE notes SET body = 'changed in V1 before the write' WHERE id = %s", [note])
        pipeline.drained()
        assert note_body(pipeline, note) == "changed in V1 before the write"

    (result,) = repair_missing(
        pipeline.settings, pipeline.mapping, tables=["notes"], after_read=worker_inserts_it_first
    )
    assert (result.missing, result.inserted, result.skipped) == (1, 0, 1)
    assert note_body(pipeline, note) == "changed in V1 before the write"
    pipeline.assert_v2_is_v1_through_mapping()


def waiting_for_a_lock(pipeline: Pipeline) -> bool:
    with pipeline.v2() as v2:
        row = v2.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return bool(row and row[0])
