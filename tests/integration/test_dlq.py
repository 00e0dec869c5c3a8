"""``replicator dlq list|show|stats|replay`` on the real pipeline: the demo's orphans dead-lettered by a
worker, inspected, fixed in V1 and replayed through Kafka back into V2.

The worker writes to a dead-letter topic of this module's own, so the counts are exactly this
scenario's. Every command runs as the operator runs it, in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from replicator.demo.reset import reset_pipeline
from replicator.kafka_util import end_offsets
from replicator.stack.manager import Stack
from tests.integration.conftest import eventually
from tests.integration.kafka_util import Message, read_topic
from tests.support.pipeline import Pipeline, start_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DLQ = f"replicator.dlq.test-{uuid.uuid4().hex[:8]}"
REASON = "__replicator.reason"


@pytest.fixture(scope="module")
def pipeline(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = start_pipeline(
        stack,
        tmp_path_factory,
        group="replicator-dlq-test",
        scale=0.02,
        dead_letter_topic=DLQ,
    )
    pipe.drained()
    yield pipe
    pipe.stop()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replicator", "dlq", *args, "--topic", DLQ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


def dlq(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def letters(pipeline: Pipeline) -> list[Message]:
    return read_topic(pipeline.settings.kafka_bootstrap, DLQ)


def orphan_of_customer_metadata() -> tuple[dict[str, Any], dict[str, Any]]:
    """A customer_metadata dead letter never replayed, whose customer does not exist in V1, and its row."""
    listed = dlq(
        "list", "--reason", "ORPHAN_FK", "--table", "customer_metadata", "--not-replayed", "--limit", "0"
    )
    chosen = listed["dead_letters"][0]
    return chosen, dlq("show", chosen["id"])["value"]["after"]


def test_stats_and_list_account_for_every_dead_letter(pipeline: Pipeline) -> None:
    """stats counts per table and reason, and list names each dead letter, exactly as the topic holds them;
    list prints no row values."""
    found = letters(pipeline)
    assert found
    expected = Counter(
        (
            (m.headers or {})["__connect.errors.topic"].decode().rsplit(".", 1)[-1],
            (m.headers or {})[REASON].decode(),
        )
        for m in found
    )
    stats = dlq("stats")
    assert {(g["table"], g["reason"]): g["count"] for g in stats["groups"]} == dict(expected)
    listed = dlq("list", "--limit", "0")
    assert listed["matching"] == len(found)
    assert [d["id"] for d in listed["dead_letters"]] == [f"{m.partition}:{m.offset}" for m in found]
    assert all(d["missing_ref"] for d in listed["dead_letters"] if d["reason"] == "ORPHAN_FK")
    text = run("list", "--limit", "0").stdout
    row = dlq("show", listed["dead_letters"][0]["id"])["value"]["after"]
    assert str(row["data"]) not in text


@pytest.fixture(scope="module")
def fixed(pipeline: Pipeline) -> tuple[str, dict[str, Any]]:
    """A dead-lettered customer_metadata row whose missing customer was then inserted into V1, and every
    dead letter waiting for that customer replayed (--missing-ref)."""
    letter, row = orphan_of_customer_metadata()
    parent = letter["missing_ref"].split(" → ", 1)[1]  # customers[<canonical key>]
    with pipeline.v1() as v1:
        v1.execute(
            "INSERT INTO customers (id, first_name, last_name, email, phone, segment, assigned_agent_id,"
            " external_ref, lifetime_value_cents, do_not_contact, created_at)"
            " SELECT %s, first_name, last_name, NULL, phone, segment, NULL, gen_random_uuid(),"
            " lifetime_value_cents, do_not_contact, created_at FROM customers ORDER BY id LIMIT 1",
            [row["customer_id"]],
        )
    pipeline.drained()
    assert _v2_source(pipeline, row["id"]) is None  # the parent alone does not bring the child back
    waiting = dlq("list", "--missing-ref", parent, "--limit", "0")["dead_letters"]
    replayed = dlq("replay", "--missing-ref", parent)
    assert replayed["replayed"] == len(waiting) and letter["id"] in replayed["chosen"]
    pipeline.drained()
    return letter["id"], row


def _v2_source(pipeline: Pipeline, metadata_id: int) -> str | None:
    with pipeline.v2() as v2:
        found = v2.execute("SELECT source FROM customer_metadata WHERE id = %s", [metadata_id]).fetchone()
    return None if found is None else str(found[0])


def test_a_dead_letter_replayed_after_its_parent_was_fixed_reaches_v2(
    pipeline: Pipeline, fixed: tuple[str, dict[str, Any]]
) -> None:
    """After the missing customer is inserted into V1 and the dead letter replayed, V2 holds the row and
    equals V1 through the mapping; the replay is recorded, and a second replay sends nothing."""
    letter, row = fixed
    assert _v2_source(pipeline, row["id"]) == row["source"]
    pipeline.assert_v2_is_v1_through_mapping()
    listed = dlq("list", "--id", letter)["dead_letters"]
    assert [len(d["replays"]) for d in listed] == [1]
    assert listed[0]["replays"][0]["topic"] == "v1.public.customer_metadata"
    assert dlq("replay", "--id", letter)["replayed"] == 0


def test_replaying_again_never_moves_a_newer_row_back(
    pipeline: Pipeline, fixed: tuple[str, dict[str, Any]]
) -> None:
    """The row changes in V1 after its replay; replaying the old dead letter again (--again) is skipped
    as stale: V2 keeps the newer row."""
    letter, row = fixed
    with pipeline.v1() as v1:
        v1.execute(
            "UPDATE customer_metadata SET source = 'changed after the replay' WHERE id = %s", [row["id"]]
        )
    pipeline.drained()
    stale_before = pipeline.ledger().get("skipped_stale", 0)
    assert dlq("replay", "--id", letter, "--again")["replayed"] == 1
    eventually(lambda: pipeline.ledger().get("skipped_stale", 0) > stale_before)
    pipeline.drained()
    assert _v2_source(pipeline, row["id"]) == "changed after the replay"
    pipeline.assert_v2_is_v1_through_mapping()


def test_a_replay_that_fails_again_comes_back_with_its_history(pipeline: Pipeline) -> None:
    """Replayed while its parent is still missing, a dead letter parks, times out and is dead-lettered
    again: replay count 1, the first failure's time kept."""
    original, _ = orphan_of_customer_metadata()
    dlq("replay", "--id", original["id"])
    sent = dlq("list", "--id", original["id"])["dead_letters"][0]["replays"][-1]

    def returned() -> dict[str, Any] | None:
        listed = dlq("list", "--reason", "ORPHAN_FK", "--limit", "0")["dead_letters"]
        source = {"topic": sent["topic"], "partition": sent["partition"], "offset": sent["offset"]}
        return next((d for d in listed if d["source"] == source), None)

    again = eventually(returned, timeout=90)
    assert again["replay_count"] == 1
    assert again["first_failure_us"] == original["first_failure_us"]
    assert again["missing_ref"] == original["missing_ref"]


def test_dry_run_sends_nothing(pipeline: Pipeline) -> None:
    ends = end_offsets(pipeline.settings.kafka_bootstrap, r"v1\.public\..*")
    planned = dlq("replay", "--reason", "ORPHAN_FK", "--dry-run")
    assert planned["dry_run"] and planned["replayed"] == 0 and planned["chosen"]
    assert end_offsets(pipeline.settings.kafka_bootstrap, r"v1\.public\..*") == ends


def test_usage_errors_name_what_is_wrong(pipeline: Pipeline) -> None:
    """No filter, an unknown reason, or an id that is not there: exit 2 and a message saying what to give."""
    bare = run("replay")
    assert bare.returncode == 2 and "--all" in bare.stderr
    bogus = run("list", "--reason", "NOT_A_REASON")
    assert bogus.returncode == 2 and "ORPHAN_FK" in bogus.stderr
    absent = run("show", "9:999999")
    assert absent.returncode == 2 and "9:999999" in absent.stderr


def test_a_start_over_begins_a_new_generation(pipeline: Pipeline) -> None:
    """Once the pipeline starts over (workers stopped, V2's state emptied by reset_pipeline), the earlier
    dead letters are left out of list, stats and replay — replaying them could bring back rows of a V1
    recreated since — and --all-generations still shows them. (Last test: it resets the module's group.)"""
    before = dlq("list", "--limit", "0")["matching"]
    assert before > 0
    pipeline.stop()
    try:
        reset_pipeline(pipeline.worker_settings, pipeline.mapping)
        assert dlq("list", "--limit", "0")["matching"] == 0
        assert dlq("stats")["groups"] == []
        assert dlq("replay", "--all")["chosen"] == []
        assert dlq("list", "--limit", "0", "--all-generations")["matching"] == before
    finally:
        pipeline.start()
