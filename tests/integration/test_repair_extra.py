"""``replicator repair extra`` on the real pipeline (worker running): V2 rows V1 does not produce through
the mapping — here copies of real rows under new ids, as an earlier batch migration leaves rows V1
deleted since — are found, backed up whole and removed, children before parents, until V2 equals V1;
a row still referenced by a V2 row that is not extra stays, named with its constraint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from psycopg import sql

from replicator.verify.extra import remove_extra
from tests.support.pipeline import Pipeline, drained_pipeline_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

BIG = 1_000_000_000  # ids no demo row has


pipeline = drained_pipeline_fixture("repair")


def repair(pipeline: Pipeline, *args: str) -> tuple[int, Any]:
    return pipeline.run_json("repair", "extra", *args)


def copy_row(pipeline: Pipeline, table: str, source_id: int, **changes: object) -> None:
    """A V2-only copy of one of ``table``'s rows, with ``changes`` (its new id among them)."""
    statement = sql.SQL(
        "INSERT INTO public.{t} SELECT (jsonb_populate_record(NULL::public.{t}, to_jsonb(r) || %s::jsonb)).* "
        "FROM public.{t} r WHERE id = %s"
    ).format(t=sql.Identifier(table))
    with pipeline.v2() as v2:
        assert v2.execute(statement, [json.dumps(changes), source_id]).rowcount == 1


def first_ids(pipeline: Pipeline, table: str, n: int) -> list[int]:
    statement = sql.SQL("SELECT id FROM public.{} ORDER BY id LIMIT %s").format(sql.Identifier(table))
    with pipeline.v2() as v2:
        return [int(r[0]) for r in v2.execute(statement, [n])]


def present(pipeline: Pipeline, table: str, ids: list[int]) -> list[int]:
    statement = sql.SQL("SELECT id FROM public.{} WHERE id = ANY(%s) ORDER BY id").format(
        sql.Identifier(table)
    )
    with pipeline.v2() as v2:
        return [int(r[0]) for r in v2.execute(statement, [ids])]


def found(out: dict[str, Any]) -> dict[str, int]:
    return {t["table"]: t["found"] for t in out["tables"]}


def test_extra_rows_are_found_backed_up_and_removed_children_first(pipeline: Pipeline) -> None:
    notes = first_ids(pipeline, "notes", 3)
    for i, note in enumerate(notes):
        copy_row(pipeline, "notes", note, id=BIG + i)
    listing, media = first_ids(pipeline, "listings", 1)[0], first_ids(pipeline, "listing_media", 1)[0]
    copy_row(pipeline, "listings", listing, id=BIG + 10)
    copy_row(pipeline, "listing_media", media, id=BIG + 11, listing_id=BIG + 10)  # an extra child of it

    code, out = repair(pipeline, "--dry-run")
    assert code == 0 and out["dry_run"] and out["removed"] == 0
    assert found(out) == {"notes": 3, "listings": 1, "listing_media": 1}
    assert {str(s["id"]) for t in out["tables"] for s in t["sample"]} >= {str(BIG), str(BIG + 10)}
    assert present(pipeline, "notes", [BIG, BIG + 1, BIG + 2]) == [BIG, BIG + 1, BIG + 2]

    code, out = repair(pipeline)
    assert code == 0, out
    assert out["removed"] == 5 and {t["table"]: t["removed"] for t in out["tables"]} == found(out)
    assert present(pipeline, "notes", [BIG, BIG + 1, BIG + 2]) == []
    assert present(pipeline, "listings", [BIG + 10]) == present(pipeline, "listing_media", [BIG + 11]) == []
    with pipeline.v2() as v2:
        backed_up = v2.execute(
            "SELECT tbl, (row_before->>'id')::bigint FROM replicator.removed_rows "
            "WHERE (row_before->>'id')::bigint >= %s",
            [BIG],
        ).fetchall()
    assert sorted(backed_up) == sorted(
        [
            ("notes", BIG),
            ("notes", BIG + 1),
            ("notes", BIG + 2),
            ("listings", BIG + 10),
            ("listing_media", BIG + 11),
        ]
    )
    pipeline.assert_v2_is_v1_through_mapping()

    code, out = repair(pipeline)
    assert code == 0 and out["found"] == 0


def test_a_row_still_referenced_by_a_row_that_is_not_extra_stays_and_is_named(pipeline: Pipeline) -> None:
    listing, media = first_ids(pipeline, "listings", 1)[0], first_ids(pipeline, "listing_media", 1)[0]
    copy_row(pipeline, "listings", listing, id=BIG + 20)
    with pipeline.v2() as v2:
        original = v2.execute("SELECT listing_id FROM listing_media WHERE id = %s", [media]).fetchone()[0]  # type: ignore[index]
        v2.execute("UPDATE listing_media SET listing_id = %s WHERE id = %s", [BIG + 20, media])
    try:
        code, out = repair(pipeline, "--table", "listings")
        assert code == 1, out
        (listings,) = out["tables"]
        assert (listings["found"], listings["removed"]) == (1, 0)
        assert "listing_media" in listings["blocked"][0] and "constraint" in listings["blocked"][0]
        assert present(pipeline, "listings", [BIG + 20]) == [BIG + 20]
    finally:
        with pipeline.v2() as v2:
            v2.execute("UPDATE listing_media SET listing_id = %s WHERE id = %s", [original, media])
    code, out = repair(pipeline, "--table", "listings")
    assert code == 0 and out["removed"] == 1
    pipeline.assert_v2_is_v1_through_mapping()


@pytest.mark.parametrize("repair_command", ["extra", "missing"])
def test_an_unknown_table_is_a_usage_error_naming_the_valid_ones(
    pipeline: Pipeline, repair_command: str
) -> None:
    result = pipeline.run("repair", repair_command, "--table", "nope", "--dry-run", timeout=120)
    assert result.returncode == 2
    assert "nope" in result.stderr and "listings" in result.stderr


def test_a_row_v1_inserts_after_the_comparison_is_kept(pipeline: Pipeline) -> None:
    """Extra when compared, then inserted into V1 and applied by the worker before the removal: the
    second look at V1 keeps it. Removed anyway, it would be lost: no later change brings it back."""
    note = first_ids(pipeline, "notes", 1)[0]
    copy_row(pipeline, "notes", note, id=BIG + 30)

    def v1_inserts_it(table: str, keys: list[tuple[object, ...]]) -> None:
        assert (table, keys) == ("notes", [(BIG + 30,)])
        with pipeline.v1() as v1:
            v1.execute(
                "INSERT INTO notes (id, author_user_id, subject_type, subject_id, body, is_deleted, "
                "created_at) SELECT %s, author_user_id, subject_type, subject_id, 'written during the "
                "repair', 'N', created_at FROM notes WHERE id = %s",
                [BIG + 30, note],
            )
        pipeline.drained()  # the worker has written V1's row over the extra one

    (result,) = remove_extra(
        pipeline.settings, pipeline.mapping, tables=["notes"], after_compare=v1_inserts_it
    )
    assert (result.found, result.kept, result.removed) == (1, 1, 0)
    pipeline.drained()
    assert present(pipeline, "notes", [BIG + 30]) == [BIG + 30]
    pipeline.assert_v2_is_v1_through_mapping()


def test_a_row_held_by_an_extra_row_of_a_later_chunk_goes_on_the_next_pass(pipeline: Pipeline) -> None:
    """agents reference agents (mentor): with one row per chunk, the extra mentor's chunk comes first
    and is held by its extra mentee until the mentee's chunk removed it; the next pass removes it."""
    agent = first_ids(pipeline, "agents", 1)[0]
    copy_row(pipeline, "agents", agent, id=BIG + 40, mentor_agent_id=None)
    copy_row(pipeline, "agents", agent, id=BIG + 41, mentor_agent_id=BIG + 40)
    code, out = repair(pipeline, "--table", "agents", "--chunk-rows", "1")
    assert code == 0, out
    (agents,) = out["tables"]
    assert (agents["found"], agents["removed"], agents["blocked"]) == (2, 2, [])
    assert present(pipeline, "agents", [BIG + 40, BIG + 41]) == []
    pipeline.assert_v2_is_v1_through_mapping()
