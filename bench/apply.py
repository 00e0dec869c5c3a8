"""Replay benchmark of the worker core: the captured demo records → ``Processor.process``, on the real stack.

    python -m bench.apply [--scale 0.2] [--repeats 3] [--profile] [--faust] [--reseed] [--backlog N]

Once: stack up, seed the demo at ``scale`` (first run, or ``--reseed``), register the connector and wait
for Debezium's snapshot, keep V2's seeded database as a template, read every record of the mapped topics
from Kafka into memory. Per repeat: V2 recreated from the template (every repeat starts from the seeded
state, ``replicator.*`` empty), then the records go through one ``Processor`` in batches of the worker's
``BATCH_MAX``, interleaved across partitions the way a consumer fetches them. Measured: wall time, this
process's CPU, and the CPU of V2's backend serving the processor.

``--backlog N`` replays ``python -m bench``'s backlog instead of the snapshot: V2 with every record so far
applied is saved as a second template, then N mixed changes (70% updates, 20% inserts, 10% deletes) are
made to V1 and captured; each repeat replays those onto that template.

References measured in the same run: COPY of as many V2 rows into identical plain tables (the fastest
write of those rows here), JSON decoding alone, and with ``--faust`` the consumption of the same records
through a minimal Faust ``noack_take`` loop (a child process) — the worker is Faust + Processor.

``--profile`` samples the replay with py-spy (cProfile if py-spy is missing) and prints the top frames.
Results go to ``bench/results/apply-<timestamp>.json``. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from kafka import KafkaConsumer, TopicPartition
from psycopg import sql

from bench import stackenv, workload
from replicator import gctune
from replicator.connect.client import ConnectClient
from replicator.connect.register import register_connector
from replicator.demo.load import seed
from replicator.demo.reset import reset_pipeline
from replicator.drain import slot_at
from replicator.mapping.catalog import read_catalog
from replicator.mapping.model import Mapping, load_mapping
from replicator.poll import until
from replicator.settings import Settings
from replicator.stack.manager import Stack, open_stack
from replicator.worker.app import BATCH_MAX, BATCH_WITHIN_S, source_topics
from replicator.worker.deadletters import DeadLetterProducer
from replicator.worker.processor import Processor, Record

RESULTS = stackenv.REPO / "bench" / "results"
TEMPLATE_SUFFIX = "_bench_apply"
BACKLOG_SUFFIX = "_bench_apply_backlog"
FETCH_CHUNK = 500  # records a consumer takes from one partition before moving on (aiokafka-like)
DLQ_TOPIC = "replicator.bench-apply.dlq"
REF_SCHEMA = "bench_ref"


# ---------------------------------------------------------------- the scenario, once


def prepare(stack: Stack, mapping: Mapping, *, scale: float, reseed: bool) -> None:
    """V1 seeded at ``scale`` and fully captured by Debezium; V2's seeded state saved as a template."""
    settings = stack.settings
    current = _seeded_scale(settings)
    wanted_marker = json.dumps({"scale": scale})
    if current == wanted_marker and not reseed:
        return
    if current is not None or ConnectClient(settings.connect_url).status(settings.connector_name):
        # Seeding again under a running connector would mix two scenarios in the topics.
        _say("the stack holds another scenario: purging it")
        stack.down()
        stack.purge()
        stack.up()
    reset_pipeline(settings, mapping)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        report = seed(v1, v2, scale=scale, mapping=mapping)
    _say(f"seeded {sum(report.v1_rows.values()):,} V1 rows in {report.seconds['total']:.1f}s")
    _save_template(settings)
    register_connector(settings.connect_url)
    wanted = sum(report.v1_rows.values())
    deadline = time.monotonic() + 1800
    while (captured := sum(_end_offsets(settings, _topics(mapping)).values())) < wanted:
        if time.monotonic() > deadline:
            raise SystemExit(f"Debezium captured only {captured:,} of {wanted:,} rows")
        _say(f"Debezium capture: {captured:,} / {wanted:,}")
        time.sleep(5)
    with _admin(settings) as admin:  # the template carries the marker: a purged stack loses both
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(settings.v2_admin.dbname + TEMPLATE_SUFFIX), sql.Literal(wanted_marker)
            )
        )


def _seeded_scale(settings: Settings) -> str | None:
    """The marker of a captured scenario (``{"scale": …}``), or None."""
    with _admin(settings) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [settings.v2_admin.dbname + TEMPLATE_SUFFIX],
        ).fetchone()
    return str(row[0]) if row and row[0] else None


def _admin(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.v2_admin.conninfo(dbname="postgres"), autocommit=True)


def _save_template(settings: Settings, suffix: str = TEMPLATE_SUFFIX) -> None:
    db = settings.v2_admin.dbname
    with _admin(settings) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(db + suffix)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(db + suffix), sql.Identifier(db))
        )


def restore_v2(settings: Settings, suffix: str = TEMPLATE_SUFFIX) -> None:
    """V2 back to a saved state (the seeded one by default): the database recreated from the template
    (and statistics fresh)."""
    db = settings.v2_admin.dbname
    with _admin(settings) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(db), sql.Identifier(db + suffix)
            )
        )
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        v2.execute("CHECKPOINT")  # so the replay does not pay for the copy's dirty pages


def prepare_backlog(settings: Settings, mapping: Mapping, base: list[Record], changes: int) -> list[Record]:
    """The backlog of ``python -m bench``, for the worker core alone: V2 with every ``base`` record
    applied, saved as a second template; then ``changes`` mixed changes to V1 (``bench.workload``: 70%
    updates, 20% inserts, 10% deletes, 100 per transaction) captured by Debezium. Returns their records."""
    restore_v2(settings)
    dead_letters = DeadLetterProducer(settings.kafka_bootstrap, DLQ_TOPIC)
    processor = build_processor(settings, mapping, dead_letters)
    try:
        replay("base", processor, base, BATCH_MAX)
    finally:
        processor.close()
    _save_template(settings, BACKLOG_SUFFIX)
    topics = _topics(mapping)
    since = _end_offsets(settings, topics)
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        events, write_s = workload.backlog(v1, workload.ChangeGenerator.load(v1), changes)
        lsn = str(v1.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
        until(lambda: slot_at(v1, settings.slot, lsn), "Debezium's capture of the backlog", 600, interval=0.5)
    _say(f"backlog: {events:,} changes to V1 in {write_s:.1f}s, captured")
    return read_records(settings, topics, since)


def _topics(mapping: Mapping) -> list[str]:
    return source_topics(mapping)


def _end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return dict(consumer.end_offsets(parts)) if parts else {}
    finally:
        consumer.close()


def read_records(
    settings: Settings, topics: list[str], since: dict[TopicPartition, int] | None = None
) -> list[Record]:
    """Every record of ``topics`` (from the offsets ``since`` when given), in a consumer-like order:
    ``FETCH_CHUNK`` records of one partition at a time, partitions round-robin."""
    since = since or {}
    ends = {tp: end for tp, end in _end_offsets(settings, topics).items() if end > since.get(tp, 0)}
    if not ends:
        return []
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, max_poll_records=5000
    )
    per_tp: dict[TopicPartition, list[Record]] = {tp: [] for tp in ends}
    try:
        consumer.assign(list(ends))
        for tp in ends:
            consumer.seek(tp, since.get(tp, 0))
        remaining = set(ends)
        while remaining:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                per_tp[tp].extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
                    for m in messages
                    if m.offset < ends[tp]
                )
                if messages and messages[-1].offset >= ends[tp] - 1:
                    remaining.discard(tp)
    finally:
        consumer.close()
    out: list[Record] = []
    cursors = dict.fromkeys(per_tp, 0)
    while cursors:
        for tp in list(cursors):
            start = cursors[tp]
            out.extend(per_tp[tp][start : start + FETCH_CHUNK])
            cursors[tp] = start + FETCH_CHUNK
            if cursors[tp] >= len(per_tp[tp]):
                del cursors[tp]
    return out


def _headers(raw: Sequence[tuple[str, bytes | None]] | None) -> tuple[tuple[str, bytes], ...]:
    return tuple((k, v or b"") for k, v in raw or ())


# ---------------------------------------------------------------- measurements


@dataclass
class Run:
    label: str
    events: int
    wall_s: float
    cpu_s: float
    v2_backend_cpu_s: float | None
    batches: int
    peak_rss_mb: float
    outcomes: dict[str, int]

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_1k(self) -> float:
        return self.cpu_s * 1e6 / self.events if self.events else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "events_per_s": self.events_per_s, "cpu_ms_per_1k": self.cpu_ms_per_1k}


def _proc_cpu_s(pid: int) -> float | None:
    """utime + stime of another process on this machine, from /proc (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_processor(settings: Settings, mapping: Mapping, dead_letters: DeadLetterProducer) -> Processor:
    with (
        psycopg.connect(settings.v1_replication.conninfo()) as v1,
        psycopg.connect(settings.v2_writer.conninfo()) as v2,
    ):
        v1_catalog = read_catalog(v1, mapping.source_schema)
        v2_catalog = read_catalog(v2, mapping.target_schema)
    return Processor(
        mapping=mapping,
        v1_catalog=v1_catalog,
        v2_catalog=v2_catalog,
        v2_conninfo=settings.v2_writer.conninfo(),
        v1_conninfo=settings.v1_replication.conninfo(),
        dead_letters=dead_letters.send_all,
        connector_name=settings.connector_name,
    )


def replay(label: str, processor: Processor, records: list[Record], batch: int) -> Run:
    backend = processor._conn("v2").info.backend_pid  # the connection the batches use
    v2_before = _proc_cpu_s(backend)
    outcomes: Counter[str] = Counter()
    batches = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), batch):
        result = processor.process(records[start : start + batch])
        batches += 1
        for (_table, _op, outcome), n in result.ledger.outcomes.items():
            outcomes[outcome.value] += n
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    v2_after = _proc_cpu_s(backend)
    return Run(
        label=label,
        events=len(records),
        wall_s=wall,
        cpu_s=cpu,
        v2_backend_cpu_s=None if v2_before is None or v2_after is None else v2_after - v2_before,
        batches=batches,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        outcomes=dict(outcomes),
    )


def reference_copy(settings: Settings, mapping: Mapping, events: int) -> Run:
    """COPY ``events`` V2 rows (taken from the replayed tables, round-robin by table) into identical plain
    tables in one transaction: the fastest write of those rows on this machine."""
    tables = sorted({t.target for t in mapping.tables})
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        sizes = {t: _count(v2, t) for t in tables}
        total = sum(sizes.values()) or 1
        quota = {t: int(events * n / total) + 1 for t, n in sizes.items()}
        dumps: dict[str, bytes] = {}
        for table in tables:
            with v2.cursor().copy(
                sql.SQL("COPY (SELECT * FROM public.{} LIMIT {}) TO STDOUT").format(
                    sql.Identifier(table), sql.Literal(quota[table])
                )
            ) as copy:
                dumps[table] = b"".join(bytes(chunk) for chunk in copy)
        v2.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(REF_SCHEMA)))
        v2.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(REF_SCHEMA)))
        for table in tables:  # same columns, types, defaults, primary key and indexes; no FKs
            v2.execute(
                sql.SQL("CREATE TABLE {}.{} (LIKE public.{} INCLUDING ALL)").format(
                    sql.Identifier(REF_SCHEMA), sql.Identifier(table), sql.Identifier(table)
                )
            )
        rows = min(events, sum(quota.values()))
        backend = v2.info.backend_pid
        v2_before = _proc_cpu_s(backend)
        wall, cpu = time.perf_counter(), time.process_time()
        with v2.transaction():
            for table, data in dumps.items():
                with v2.cursor().copy(
                    sql.SQL("COPY {}.{} FROM STDIN").format(sql.Identifier(REF_SCHEMA), sql.Identifier(table))
                ) as copy:
                    copy.write(data)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        v2_after = _proc_cpu_s(backend)
        v2.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(REF_SCHEMA)))
    return Run(
        "reference: COPY into plain tables",
        rows,
        wall,
        cpu,
        None if v2_before is None or v2_after is None else v2_after - v2_before,
        len(dumps),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        {},
    )


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def json_only(records: list[Record]) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    for record in records:
        if record.key is not None:
            orjson.loads(record.key)
        if record.value is not None:
            orjson.loads(record.value)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Run("reference: orjson.loads of key+value", len(records), wall, cpu, None, 0, 0.0, {})


# ---------------------------------------------------------------- consumption alone


def aiokafka_consume(settings: Settings, topics: list[str], events: int) -> Run:
    """The same records through a bare aiokafka ``getmany`` loop building ``Record``s: the floor under
    any consumer framework (no group, no commits)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AioTP

    parts = [AioTP(tp.topic, tp.partition) for tp, end in _end_offsets(settings, topics).items() if end]

    async def run() -> Run:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            seen = batches = 0
            wall = cpu = 0.0
            while seen < events:
                got = await consumer.getmany(timeout_ms=1000, max_records=BATCH_MAX)
                if got and not batches:
                    wall, cpu = time.perf_counter(), time.process_time()
                records = [
                    Record(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
                    for messages in got.values()
                    for m in messages
                ]
                seen += len(records)
                batches += bool(records)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            await consumer.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return Run("aiokafka getmany loop alone", seen, wall, cpu, None, batches, rss, {})

    return asyncio.run(run())


# Faust, in a child process


def faust_consume(
    settings: Settings, mapping: Mapping, events: int, profile: Path | None = None
) -> tuple[Run, list[tuple[str, float, float]]]:
    """The same records through a minimal Faust ``noack_take`` loop that only builds ``Record``s and acks
    (a child process with a fresh consumer group); CPU and wall measured from its first batch. With
    ``profile``, py-spy samples the child (its top frames are returned)."""
    out = settings.state_dir / "bench-apply-faust.json"
    out.unlink(missing_ok=True)
    group = f"bench-apply-faust-{int(time.time())}"
    env = {**os.environ, "BENCH_APPLY_FAUST": json.dumps({"group": group, "events": events, "out": str(out)})}
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "bench.apply", "--faust-child"], env=env)
    spy = _py_spy()
    sampler = (
        subprocess.Popen(
            [spy, "record", "--pid", str(child.pid), "--rate", "200", "--format", "raw", "-o", str(profile)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if profile is not None and spy
        else None
    )
    try:
        while not out.exists() and child.poll() is None and time.monotonic() - started < 900:
            time.sleep(0.5)
    finally:
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=120)
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
    if not out.exists():
        raise SystemExit("the Faust consumption child did not report")
    figures = json.loads(out.read_text())
    run = Run(
        "Faust noack_take loop alone",
        figures["events"],
        figures["wall_s"],
        figures["cpu_s"],
        None,
        figures["batches"],
        figures["peak_rss_mb"],
        {},
    )
    top = _collapsed_top(profile, marker="consume") if sampler is not None and profile is not None else []
    return run, top


def _faust_child() -> None:
    import faust

    spec = json.loads(os.environ["BENCH_APPLY_FAUST"])
    stack = open_stack()
    settings, mapping = stack.settings, load_mapping(stack.settings.mapping_path)
    app = faust.App(
        spec["group"],
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.state_dir / "faust-bench-apply"),
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    source = app.topic(*_topics(mapping), key_type=bytes, value_type=bytes)
    state = {"events": 0, "batches": 0, "wall": 0.0, "cpu": 0.0}

    async def consume(stream: Any) -> None:
        async for events in stream.noack_take(BATCH_MAX, within=BATCH_WITHIN_S):
            if not state["batches"]:
                state["wall"], state["cpu"] = time.perf_counter(), time.process_time()
            records = [
                Record(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
                for m in (e.message for e in events)
            ]
            state["events"] += len(records)
            state["batches"] += 1
            for event in events:
                await stream.ack(event)
            if state["events"] >= spec["events"]:
                Path(spec["out"]).write_text(
                    json.dumps(
                        {
                            "events": state["events"],
                            "batches": state["batches"],
                            "wall_s": time.perf_counter() - state["wall"],
                            "cpu_s": time.process_time() - state["cpu"],
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        }
                    )
                )
                await asyncio.sleep(0)

    app.agent(source, name="bench-apply")(consume)
    from faust.worker import Worker

    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


# ---------------------------------------------------------------- profiling


@contextlib.contextmanager
def profiled(path: Path) -> Iterator[Callable[[], list[tuple[str, float, float]]]]:
    """Sample this process during the block (py-spy; cProfile when py-spy is not installed). Yields a
    function returning the top frames as (frame, self %, total %)."""
    spy = _py_spy()
    top: list[tuple[str, float, float]] = []
    if spy:
        proc = subprocess.Popen(
            [spy, "record", "--pid", str(os.getpid()), "--rate", "200", "--format", "raw", "-o", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let it attach
        try:
            yield lambda: top
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
            top.extend(_collapsed_top(path))
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield lambda: top
    finally:
        profiler.disable()
        stats = pstats.Stats(profiler)
        total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:40]  # type: ignore[attr-defined]
        top.extend(
            (f"{func} ({Path(file).name}:{line})", 100 * v[2] / total, 100 * v[3] / total)
            for (file, line, func), v in rows
        )


def _py_spy() -> str | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return spy if Path(spy).exists() else None


def _collapsed_top(path: Path, n: int = 40, marker: str = "replay") -> list[tuple[str, float, float]]:
    """Self and inclusive share of each frame in py-spy's collapsed stacks (only those through
    ``marker``: the replay, not other threads)."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_short(f) for f in stack.split(";")]
        if marker and not any(marker in f for f in frames):
            continue  # other threads (Kafka client, idle) are not the replay
        weight = int(count)
        samples += weight
        self_counts[frames[-1]] += weight
        for frame in set(frames):
            total_counts[frame] += weight
    if not samples:
        return []
    ranked = sorted(self_counts, key=lambda f: self_counts[f], reverse=True)[:n]
    return [(f, 100 * self_counts[f] / samples, 100 * total_counts[f] / samples) for f in ranked]


def _short(frame: str) -> str:
    """``func (path/to/module.py:123)`` → ``func (module.py)``: lines vary, functions are what we rank."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})"


# ---------------------------------------------------------------- report


def _table(runs: list[Run], reference: Run) -> None:
    ref_us = reference.wall_s * 1e6 / reference.events if reference.events else 0.0
    print(
        f"\n{'run':<40} {'events':>8} {'events/s':>10} {'CPU ms/1K':>10} {'V2 CPU ms/1K':>13} {'x COPY':>8}"
    )
    for run in runs:
        v2 = f"{run.v2_backend_cpu_s * 1e6 / run.events:.1f}" if run.v2_backend_cpu_s is not None else "-"
        ratio = (run.wall_s * 1e6 / run.events) / ref_us if ref_us and run.events else 0.0
        print(
            f"{run.label:<40} {run.events:>8,} {run.events_per_s:>10,.0f} {run.cpu_ms_per_1k:>10.1f} "
            f"{v2:>13} {ratio:>8.1f}"
        )
    print("(x COPY: wall µs per event divided by the reference's wall µs per row)")


def _profile_table(top: list[tuple[str, float, float]], limit: int = 30) -> None:
    print(f"\n{'self %':>7} {'total %':>8}  frame")
    for frame, own, total in top[:limit]:
        print(f"{own:>7.1f} {total:>8.1f}  {frame}")


def _say(text: str) -> None:
    print(f"· {text}", flush=True)


Top = list[tuple[str, float, float]]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.apply", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=BATCH_MAX)
    parser.add_argument("--profile", action="store_true", help="sample the last repeat with py-spy")
    parser.add_argument("--faust", action="store_true", help="also measure Faust consumption alone")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="replay this many mixed changes (python -m bench's backlog) instead of the snapshot",
    )
    parser.add_argument("--faust-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _repeats(
    settings: Settings, mapping: Mapping, records: list[Record], args: argparse.Namespace, stamp: str
) -> tuple[list[Run], Top]:
    runs: list[Run] = []
    top: Top = []
    dead_letters = DeadLetterProducer(settings.kafka_bootstrap, DLQ_TOPIC)
    for repeat in range(1, args.repeats + 1):
        restore_v2(settings, BACKLOG_SUFFIX if args.backlog else TEMPLATE_SUFFIX)
        processor = build_processor(settings, mapping, dead_letters)
        label = f"Processor.process, repeat {repeat}"
        try:
            if args.profile and repeat == args.repeats:
                with profiled(RESULTS / f"apply-{stamp}.pyspy.txt") as get_top:
                    runs.append(replay(label + " (profiled)", processor, records, args.batch))
                top = get_top()
            else:
                runs.append(replay(label, processor, records, args.batch))
        finally:
            processor.close()
        _say(f"{runs[-1].label}: {runs[-1].events_per_s:,.0f} events/s, {runs[-1].cpu_ms_per_1k:.1f} ms/1K")
    return runs, top


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    if args.faust_child:
        _faust_child()
        return
    stack = open_stack()
    stack.up()
    settings, mapping = stack.settings, load_mapping(stack.settings.mapping_path)
    prepare(stack, mapping, scale=args.scale, reseed=args.reseed)
    started = time.perf_counter()
    records = read_records(settings, _topics(mapping))
    _say(f"read {len(records):,} records from Kafka in {time.perf_counter() - started:.1f}s")
    if not records:
        raise SystemExit("the demo's topics hold no records: run again with --reseed")
    if args.backlog:
        records = prepare_backlog(settings, mapping, records, args.backlog)
    # The worker's collector settings. The records are frozen with the start-up objects: a worker holds
    # one batch of them at a time, so the full collections must not walk all of them.
    gctune.tune()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs, top = _repeats(settings, mapping, records, args, stamp)
    reference = reference_copy(settings, mapping, len(records))
    extra = [json_only(records)]
    faust_top: Top = []
    if args.faust:
        spied = RESULTS / f"apply-{stamp}.faust.pyspy.txt" if args.profile else None
        faust_run, faust_top = faust_consume(settings, mapping, len(records), spied)
        extra += [faust_run, aiokafka_consume(settings, _topics(mapping), len(records))]
    _table([*runs, reference, *extra], reference)
    if top:
        print("\nprofile of Processor.process (py-spy, replay thread)")
        _profile_table(top)
    if faust_top:
        print("\nprofile of the Faust loop alone (py-spy, whole child process; marker: consume)")
        _profile_table(faust_top)
    path = RESULTS / f"apply-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "scale": args.scale,
                "backlog": args.backlog,
                "batch": args.batch,
                "records": len(records),
                "runs": [r.as_dict() for r in [*runs, reference, *extra]],
                "profile_top": [{"frame": f, "self_pct": s, "total_pct": t} for f, s, t in top],
                "faust_profile_top": [{"frame": f, "self_pct": s, "total_pct": t} for f, s, t in faust_top],
            },
            indent=2,
        )
    )
    _say(f"results in {path.relative_to(stackenv.REPO)}")


if __name__ == "__main__":
    main()
