"""A running replication pipeline for end-to-end tests: the demo seeded into V1 and V2, one worker in its
own consumer group, and the checks those tests share."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.demo.reset import reset_pipeline
from replicator.drain import wait_drained
from replicator.kafka_util import end_offsets, group_offsets
from replicator.mapping.model import Mapping, load_mapping
from replicator.settings import Settings
from replicator.stack.manager import Stack
from replicator.worker.app import source_topics
from tests.support.expected import actual_v2, diff, v1_through_mapping


@dataclass
class Pipeline:
    stack: Stack
    mapping: Mapping
    env: dict[str, str]
    topics: list[str]
    start_offsets: dict[Any, int]
    group: str
    worker: int = 1
    dead_letter_topic: str | None = None

    @property
    def settings(self) -> Any:
        return self.stack.settings

    @property
    def worker_settings(self) -> Settings:
        """The stack's settings as the worker sees them: its consumer group and dead-letter topic."""
        update: dict[str, str] = {"consumer_group": self.group}
        if self.dead_letter_topic:
            update["dead_letter_topic"] = self.dead_letter_topic
        settings: Settings = self.stack.settings.model_copy(update=update)
        return settings

    def v1(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.v1_admin.conninfo(), autocommit=True)

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``replicator ARGS`` as an operator runs it, in a subprocess with this pipeline's settings."""
        return subprocess.run(
            [sys.executable, "-m", "replicator", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=timeout,
            check=False,
        )

    def run_json(self, *args: str) -> tuple[int, Any]:
        """``replicator ARGS --json``: its exit code and its JSON."""
        result = self.run(*args, "--json")
        assert result.stdout, result.stderr
        return result.returncode, json.loads(result.stdout)

    def v2(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.v2_admin.conninfo(), autocommit=True)

    def start(self) -> None:
        self.stack.start_worker(self.worker, env=self.env)

    def stop(self, *, kill: bool = False) -> None:
        for worker in self.stack.workers():
            if worker.name == f"worker-{self.worker}":
                worker.stop(kill=kill)

    def lag(self) -> int:
        pattern = "|".join(re.escape(t) for t in self.topics)
        ends = end_offsets(self.settings.kafka_bootstrap, pattern)
        done = group_offsets(self.settings.kafka_bootstrap, self.group)
        return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())

    def parked(self) -> int:
        with self.v2() as v2:
            return int(v2.execute("SELECT count(*) FROM replicator.parked").fetchone()[0])  # type: ignore[index]

    def drained(self, timeout: float = 180) -> None:
        """Debezium has shipped every V1 change so far, the group has applied it, nothing is parked."""
        state = wait_drained(self.worker_settings, self.topics, timeout=timeout)
        assert state.zero, state

    def assert_v2_is_v1_through_mapping(self) -> None:
        with self.v1() as v1, self.v2() as v2:
            expected = v1_through_mapping(v1, self.mapping)
            actual = actual_v2(v2, self.mapping, sorted(expected))
        problems = {
            t: (d.missing[:5], d.extra[:5], list(d.different.items())[:5])
            for t, d in diff(expected, actual).items()
        }
        assert problems == {}, problems

    def ledger(self) -> dict[str, int]:
        with self.v2() as v2:
            rows = v2.execute(
                "SELECT outcome, sum(events)::bigint FROM replicator.ledger GROUP BY 1"
            ).fetchall()
        return {str(o): int(n) for o, n in rows}

    def snapshot(self) -> tuple[object, object]:
        """Checksums of every V2 table and of the row versions."""
        with self.v2() as v2:
            data = {
                t: v2.execute(
                    f"SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM public.{t} r"  # noqa: S608
                ).fetchone()
                for t in sorted({m.target for m in self.mapping.tables})
            }
            versions = v2.execute(
                "SELECT md5(string_agg(tbl || pk || commit_lsn || ':' || lsn || deleted, '|' "
                "ORDER BY tbl, pk)) "
                "FROM replicator.row_version"
            ).fetchone()
        return data, versions


def start_pipeline(
    stack: Stack,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    group: str,
    scale: float,
    worker: int = 1,
    dead_letter_topic: str | None = None,
) -> Pipeline:
    """The demo at ``scale`` seeded afresh, park timeouts shortened to 3 s, and one worker started in
    ``group`` (writing to ``dead_letter_topic`` when given: a module's own, counted exactly)."""
    text = (SCHEMAS_DIR / "mapping.yaml").read_text()
    mapping_file = tmp_path_factory.mktemp("mapping") / "mapping.yaml"
    mapping_file.write_text(re.sub(r"park_timeout: \S+", "park_timeout: 3s", text))
    mapping = load_mapping(mapping_file)
    settings = stack.settings
    topics = source_topics(mapping)
    pipe = Pipeline(stack, mapping, {}, topics, {}, group, worker, dead_letter_topic)
    pipe.start_offsets = reset_pipeline(pipe.worker_settings, mapping)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=scale)
    pipe.env = {"REPLICATOR_MAPPING_PATH": str(mapping_file), "REPLICATOR_CONSUMER_GROUP": group}
    if dead_letter_topic:
        pipe.env["REPLICATOR_DEAD_LETTER_TOPIC"] = dead_letter_topic
    pipe.start()
    return pipe


def drained_pipeline_fixture(name: str) -> Any:
    """A module-scoped fixture (``pipeline = drained_pipeline_fixture("…")``): ``start_pipeline`` at scale
    0.02 in group ``replicator-<name>-test`` with a dead-letter topic of its own, drained before the first
    test, stopped after the last."""

    @pytest.fixture(scope="module")
    def fixture(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
        pipe = start_pipeline(
            stack,
            tmp_path_factory,
            group=f"replicator-{name}-test",
            scale=0.02,
            dead_letter_topic=f"replicator.dlq.{name}-{uuid.uuid4().hex[:8]}",
        )
        pipe.drained()
        try:
            yield pipe
        finally:
            pipe.stop()

    return fixture
