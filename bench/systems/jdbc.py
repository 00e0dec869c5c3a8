"""System c: Debezium's PostgreSQL source and Debezium's JDBC sink, both run by the stack's Kafka Connect.

The source captures V1's replicated tables through its own slot and publication (``bench_jdbc``, never
the product's ``replicator_v1``) into topics ``bjdbc.public.<table>``; the sink upserts them into
V1-identical tables of the database ``bench_jdbc`` on the V2 cluster (``mirror_database``).

Both connectors override the worker's schema-less JsonConverter with schema-ful JSON: the JDBC sink
needs a schema to bind each value. Every V1 column type round-trips unchanged with these source
settings (checked by tests/integration/test_bench_jdbc.py):

- numeric: ``decimal.handling.mode=precise`` (Connect Decimal, bound as BigDecimal; the product's
  ``string`` would be bound as varchar and rejected by a numeric column);
- timestamp, timestamptz, date: ``time.precision.mode=adaptive`` (MicroTimestamp, ZonedTimestamp,
  Date: microseconds kept) and the sink's ``use.time.zone=UTC``; ``timestamp`` values are faithful
  only while the Connect JVM runs in a zone without gaps such as UTC (``check_connect_time_zone``);
- bytea: ``binary.handling.mode=bytes`` (the product's ``base64`` would arrive as text);
- uuid, jsonb, text[]: Debezium's semantic types Uuid and Json and Connect arrays, which the sink's
  PostgreSQL dialect binds with a cast to the target column's type.

Deletes: the source emits a delete event and then a tombstone, as the product's connector does. The
sink deletes the row on the delete event (``delete.enabled``); it cannot name a table for a tombstone
(no ``source`` block), so it skips it with a WARN line in the Connect log and still commits its offset.
Dropping tombstones with a Connect Filter transform instead would stall the committed offsets: the
sink commits only the offsets of records it was handed.

The sink plugin is not part of the stack: ``setup`` resolves deploy/local/jdbc-sink/pom.xml with Maven
into ``<state_dir>/plugins/debezium-connector-jdbc`` and restarts Kafka Connect once if the plugin is
not loaded yet.

Catching up is judged by the source slot's confirmed_flush_lsn, which Debezium only advances when it
ships a change of a published table. So that it passes any V1 LSN promptly even while the replicated
tables are idle (V1 writes other WAL, e.g. the product's heartbeats), the source writes its own
heartbeat row every second into ``bench_jdbc.heartbeat`` on V1, a table of its publication that the
sink does not consume.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import psycopg
from kafka import KafkaAdminClient
from psycopg import sql

from bench.context import Bench, count_rows
from bench.systems.base import mirror_database
from replicator.drain import slot_at
from replicator.errors import ReplicatorError, StackError
from replicator.kafka_util import end_offsets, group_offsets
from replicator.poll import until
from replicator.stack import jvm
from replicator.stack.artifacts import ensure_copied
from replicator.stack.layout import DEBEZIUM_POM, DEPLOY_LOCAL

NAME = "bench_jdbc"
"""The source's slot and publication, the target database on V2, the V1 schema of the heartbeat table."""
TOPIC_PREFIX = "bjdbc"
SOURCE = "bench-jdbc-source"
SINK = "bench-jdbc-sink"
SINK_GROUP = f"connect-{SINK}"
"""Kafka Connect's consumer group of a sink connector: ``connect-<name>``."""
SINK_ROLE = "bench_jdbc_sink"
"""The V2 login of the sink: DML on the tables of ``bench_jdbc`` only, a fresh password per setup."""
HEARTBEAT = "heartbeat"
HEARTBEAT_QUERY = " ".join(
    (
        "INSERT INTO bench_jdbc.heartbeat (id, ts) VALUES (1, now())",
        "ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts",
    )
)
"""Run by the source every ``heartbeat.interval.ms`` (its schema and table are ``NAME`` and ``HEARTBEAT``)."""
SINK_CLASS = "io.debezium.connector.jdbc.JdbcSinkConnector"
SOURCE_CLASS = jvm.POSTGRES_CONNECTOR_CLASS
JDBC_SINK_POM = DEPLOY_LOCAL / "jdbc-sink" / "pom.xml"
PLUGIN_DIR = "debezium-connector-jdbc"
PARTITIONS = 3
"""Partitions per table topic, as the product's connector creates them."""
RETENTION_MS = 604_800_000
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
MAX_POLL_RECORDS = 500
"""The Kafka consumer's default ``max.poll.records``: the most records one ``put`` of a sink task gets."""
WAIT_S = 60.0


class JdbcSinkSystem:
    """Debezium PostgreSQL source + Debezium JDBC sink connector into V1-identical tables on V2.

    ``tasks`` is the sink's ``tasks.max``, 1 by default: one consumer applying every topic. Each table
    topic has 3 partitions and Connect gives each partition to one task, so up to 3 tasks share the
    work with per-row order kept. For a like-for-like comparison with the product, give the sink as
    many tasks as the product runs workers (``ProductSystem.workers``, 2).

    ``batch_size`` is the sink's ``batch.size`` (its default, 500): rows per table written in one JDBC
    batch. A task gets at most ``max.poll.records`` records per ``put``, so that consumer setting is
    raised to ``batch_size`` when larger (the worker allows client overrides).
    """

    key = "c"
    label = "Debezium JDBC sink"

    def __init__(self, *, tasks: int = 1, batch_size: int = 500) -> None:
        if not 1 <= tasks <= PARTITIONS:
            raise ValueError(f"tasks must be between 1 and {PARTITIONS}")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.tasks = tasks
        self.batch_size = batch_size
        self._start_counts: dict[str, int] = {}
        self._sink_password = ""

    # -- the System protocol -------------------------------------------------------------------

    def setup(self, bench: Bench) -> None:
        """Install the sink plugin if needed, remove connectors, slot, publication, topics and the sink's
        consumer group of an earlier run, create the empty target tables and the publication."""
        connect = _Connect(bench.settings.connect_url)
        ensure_sink_plugin(bench, connect)
        check_connect_time_zone(bench)
        for name in (SINK, SOURCE):
            connect.remove(name)
        _drop_slot_and_publication(bench)
        _delete_topics_and_group(bench)
        mirror_database(bench, NAME)
        self._sink_password = secrets.token_urlsafe(18)
        _create_sink_role(bench, self._sink_password)
        _create_heartbeat_table(bench)
        _ensure_publication(bench)

    def start(self, bench: Bench) -> None:
        """Register the source (snapshot of V1, then streaming) and the sink, and wait until both run."""
        if not self._sink_password:
            raise ReplicatorError(f"system {self.key}: start() before setup()")
        self._start_counts = bench.v1_counts()
        _ensure_publication(bench)  # a re-seed of V1 after setup drops tables from the publication
        _create_topics(bench)
        connect = _Connect(bench.settings.connect_url)
        connect.create_fresh(SOURCE, self.source_config(bench))
        connect.create_fresh(SINK, self.sink_config(bench, self._sink_password))
        for name in (SOURCE, SINK):
            connect.wait_state(name, "RUNNING")

    def synced(self, bench: Bench) -> bool:
        """Every table holds as many rows as V1 did at ``start`` (there are no concurrent writes)."""
        _Connect(bench.settings.connect_url).check_not_failed(SOURCE, SINK)
        with bench.v2(NAME) as target:
            return all(count_rows(target, "public", t) == n for t, n in self._start_counts.items())

    def pause(self, bench: Bench) -> None:
        """Pause the sink only (its task stops consuming); the source keeps filling Kafka."""
        connect = _Connect(bench.settings.connect_url)
        connect.put(f"/connectors/{SINK}/pause")
        connect.wait_state(SINK, "PAUSED")

    def resume(self, bench: Bench) -> None:
        connect = _Connect(bench.settings.connect_url)
        connect.put(f"/connectors/{SINK}/resume")
        connect.wait_state(SINK, "RUNNING")

    def caught_up(self, bench: Bench, lsn: str) -> bool:
        """The source confirmed ``lsn`` (every earlier change of V1 is in Kafka) and the sink's group has
        committed the end offset of every table topic (Connect commits after the rows are written)."""
        _Connect(bench.settings.connect_url).check_not_failed(SOURCE, SINK)
        with bench.v1() as v1:
            confirmed = slot_at(v1, NAME, lsn)
        if not confirmed:
            return False
        ends = end_offsets(bench.settings.kafka_bootstrap, table_topic_pattern())
        done = group_offsets(bench.settings.kafka_bootstrap, SINK_GROUP)
        return all(done.get(tp, 0) >= end for tp, end in ends.items())

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        return NAME, v1_table

    def processes(self, bench: Bench) -> dict[str, list[int]]:
        """None of its own: both connectors run inside the shared Kafka Connect worker."""
        return {}

    def start_usage(self) -> dict[str, tuple[float, float]]:
        return {}

    def rows_committed_at(self) -> float | None:
        return None  # known only once ``synced`` holds

    def teardown(self, bench: Bench) -> None:
        """Delete both connectors with their offsets, the slot, the publication, the V1 heartbeat schema
        and the sink's V2 role. The target database and the topics stay until the next ``setup``."""
        connect = _Connect(bench.settings.connect_url)
        for name in (SINK, SOURCE):
            connect.remove(name)
        _drop_slot_and_publication(bench)
        with bench.v1() as v1:
            v1.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(NAME)))
        _drop_sink_role(bench)
        self._sink_password = ""

    # -- configuration --------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The knobs chosen for both connectors (no hosts, users or secrets), for the results file."""
        return {
            "debezium_postgres": _pinned_version(DEBEZIUM_POM),
            "debezium_jdbc_sink": _pinned_version(JDBC_SINK_POM),
            "source": _source_knobs(),
            "sink": _sink_knobs(self.tasks, self.batch_size),
            "converters": "JsonConverter with schemas.enable=true (keys and values, both connectors)",
            "partitions_per_topic": PARTITIONS,
        }

    def source_config(self, bench: Bench) -> dict[str, str]:
        """The source connector. Credentials come from the Connect worker's environment
        (EnvVarConfigProvider), like connectors/v1-source.json."""
        tables = "|".join(re.escape(t) for t in bench.tables)
        return {
            "connector.class": SOURCE_CLASS,
            "tasks.max": "1",
            "plugin.name": "pgoutput",
            "database.hostname": "${env:V1_DB_HOST}",
            "database.port": "${env:V1_DB_PORT}",
            "database.dbname": "${env:V1_DB_NAME}",
            "database.user": "${env:V1_DB_REPLICATION_USER}",
            "database.password": "${env:V1_DB_REPLICATION_PASSWORD}",
            "topic.prefix": TOPIC_PREFIX,
            "slot.name": NAME,
            "publication.name": NAME,
            "publication.autocreate.mode": "disabled",
            "table.include.list": f"public\\.({tables}),{re.escape(NAME)}\\.{HEARTBEAT}",
            **_source_knobs(),
            **_converters(),
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": str(PARTITIONS),
            "topic.creation.default.cleanup.policy": "delete",
            "topic.creation.default.retention.ms": str(RETENTION_MS),
        }

    def sink_config(self, bench: Bench, password: str) -> dict[str, str]:
        """The sink connector. Connect has no V2 credentials in its environment, so the sink's own
        throwaway role and password are inline (stored in Connect's config topic; never logged)."""
        v2 = bench.settings.v2_admin
        return {
            "connector.class": SINK_CLASS,
            "topics.regex": table_topic_pattern(),
            "connection.url": f"jdbc:postgresql://{v2.host}:{v2.port}/{NAME}",
            "connection.username": SINK_ROLE,
            "connection.password": password,
            **_sink_knobs(self.tasks, self.batch_size),
            **_converters(),
        }


def _pinned_version(pom: Path) -> str:
    match = re.search(r"<debezium\.version>([^<]+)</debezium\.version>", pom.read_text())
    return match.group(1) if match else "unknown"


def table_topic_pattern() -> str:
    """The table topics of the source (not its heartbeat table's nor Debezium's heartbeat topic)."""
    return f"{re.escape(TOPIC_PREFIX)}\\.public\\..*"


def _source_knobs() -> dict[str, str]:
    return {
        "snapshot.mode": "initial",
        "decimal.handling.mode": "precise",
        "time.precision.mode": "adaptive",
        "binary.handling.mode": "bytes",
        "tombstones.on.delete": "true",
        "provide.transaction.metadata": "false",
        "heartbeat.interval.ms": "1000",
        "poll.interval.ms": "100",  # as the product's connector: a source batch waits at most 100 ms
        "heartbeat.action.query": HEARTBEAT_QUERY,
    }


def _sink_knobs(tasks: int, batch_size: int) -> dict[str, str]:
    return {
        "tasks.max": str(tasks),
        "consumer.override.max.poll.records": str(max(MAX_POLL_RECORDS, batch_size)),
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "truncate.enabled": "false",
        "schema.evolution": "none",
        "collection.name.format": "${source.table}",
        "batch.size": str(batch_size),
        "use.reduction.buffer": "false",
        "use.time.zone": "UTC",
    }


def _converters() -> dict[str, str]:
    return {
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "true",
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "true",
    }


# -- the plugin ---------------------------------------------------------------------------------


def ensure_sink_plugin(bench: Bench, connect: _Connect | None = None) -> None:
    """Copy the pinned JDBC sink plugin into Connect's plugin.path (Maven, cached in ~/.m2); restart
    Connect when the running worker has not loaded that copy: a worker scans its plugin.path only at
    start-up. A copy made now (first use, or a changed pom) is not loaded yet by definition."""
    layout = bench.stack.layout
    copied = ensure_copied(
        "connect",
        JDBC_SINK_POM,
        layout.plugins / PLUGIN_DIR,
        exclude_groups=("org.apache.kafka", "org.slf4j"),
    )
    connect = connect or _Connect(bench.settings.connect_url)
    if not copied and SINK_CLASS in connect.plugins():
        return
    service = jvm.connect(bench.settings, layout)
    service.stop()
    service.start(bench.settings.stack.start_timeout_s)
    until(lambda: SINK_CLASS in connect.plugins(), "the JDBC sink plugin to load", WAIT_S)


def check_connect_time_zone(bench: Bench) -> None:
    """Refuse a Connect JVM whose default time zone has gaps (daylight saving, offset changes).

    The sink hands a ``timestamp`` value to Hibernate 6.4 as a LocalDateTime, which binds it through
    java.sql.Timestamp in the JVM's default zone: a wall-clock time inside a gap of that zone (e.g.
    2024-03-10 02:30 in America/New_York) is written an hour later. ``use.time.zone`` does not help,
    and this Hibernate has no direct java.time binding. A JVM in UTC writes every value unchanged.
    """
    zone = _connect_time_zone(bench)
    if zone is not None and _has_gaps(zone):
        raise StackError(
            "connect",
            f"the Kafka Connect JVM runs in time zone {zone!r}: the JDBC sink would shift `timestamp`"
            " values that fall in its daylight-saving gaps",
            hint="restart the stack with TZ=UTC in its environment (`TZ=UTC replicator stack down`, then up)",
        )


def _connect_time_zone(bench: Bench) -> str | None:
    """The running Connect JVM's default zone, found as the JVM finds it: -Duser.timezone, then TZ,
    then the system's /etc/timezone or /etc/localtime. None when it cannot be told."""
    pid = jvm.connect(bench.settings, bench.stack.layout).pid()
    if pid is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for arg in cmdline:
        if arg.startswith(b"-Duser.timezone="):
            return arg.split(b"=", 1)[1].decode()
    for variable in environ:
        if variable.startswith(b"TZ="):
            return variable[3:].decode().lstrip(":") or "UTC"
    system = Path("/etc/timezone")
    if system.is_file():
        return system.read_text().strip() or None
    localtime = str(Path("/etc/localtime").resolve())
    return localtime.split("zoneinfo/", 1)[1] if "zoneinfo/" in localtime else None


def _has_gaps(zone: str) -> bool:
    """The zone's UTC offset changed at some month boundary since 1970 (an unknown zone is GMT to Java)."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    offsets = {datetime(y, m, 1, tzinfo=tz).utcoffset() for y in range(1970, 2038) for m in range(1, 13)}
    return len(offsets) > 1


# -- V1 and V2 ----------------------------------------------------------------------------------


def _ensure_publication(bench: Bench) -> None:
    """Publication ``bench_jdbc`` for exactly the replicated tables plus the heartbeat table."""
    tables = [sql.Identifier("public", t) for t in bench.tables] + [sql.Identifier(NAME, HEARTBEAT)]
    listed = sql.SQL(", ").join(tables)
    with bench.v1() as v1:
        exists = v1.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [NAME]).fetchone()
        verb = "ALTER PUBLICATION {} SET TABLE {}" if exists else "CREATE PUBLICATION {} FOR TABLE {}"
        v1.execute(sql.SQL(verb).format(sql.Identifier(NAME), listed))


def _create_heartbeat_table(bench: Bench) -> None:
    role = sql.Identifier(bench.settings.v1_replication.user)
    schema = sql.Identifier(NAME)
    table = sql.Identifier(NAME, HEARTBEAT)
    with bench.v1() as v1:
        v1.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        v1.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} (id integer PRIMARY KEY, ts timestamptz NOT NULL)").format(
                table
            )
        )
        v1.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        v1.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(table, role))


def _drop_slot_and_publication(bench: Bench) -> None:
    """Drop the slot (ending a walsender that still holds it) and the publication."""
    deadline = time.monotonic() + WAIT_S
    with bench.v1() as v1:
        while True:
            row = v1.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [NAME]
            ).fetchone()
            if row is None:
                break
            try:
                if row[0] is not None:
                    v1.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                    time.sleep(0.2)
                v1.execute("SELECT pg_drop_replication_slot(%s)", [NAME])
                break
            except (psycopg.errors.ObjectInUse, psycopg.errors.UndefinedObject):
                if time.monotonic() > deadline:
                    raise StackError("postgres-v1", f"replication slot {NAME} stays active") from None
                time.sleep(0.5)
        v1.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(NAME)))


def _create_sink_role(bench: Bench, password: str) -> None:
    role = sql.Identifier(SINK_ROLE)
    with bench.v2("postgres") as admin:
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [SINK_ROLE]).fetchone() is None:
            admin.execute(sql.SQL("CREATE ROLE {}").format(role))
        admin.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                role, sql.Literal(password)
            )
        )
    with bench.v2(NAME) as target:
        target.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        target.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role)
        )


def _drop_sink_role(bench: Bench) -> None:
    with bench.v2("postgres") as admin:
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [SINK_ROLE]).fetchone() is None:
            return
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [SINK_ROLE]
        )
        has_target = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [NAME]).fetchone()
    if has_target:
        with bench.v2(NAME) as target:
            target.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(SINK_ROLE)))
    with bench.v2("postgres") as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(SINK_ROLE)))


# -- Kafka --------------------------------------------------------------------------------------


def _own_topics(admin: KafkaAdminClient) -> list[str]:
    heartbeat_topic = f"__debezium-heartbeat.{TOPIC_PREFIX}"
    return [t for t in admin.list_topics() if t.startswith(f"{TOPIC_PREFIX}.") or t == heartbeat_topic]


def _delete_topics_and_group(bench: Bench) -> None:
    """Delete the source's topics (waiting until they are gone) and the sink's consumer group."""
    admin = KafkaAdminClient(bootstrap_servers=bench.settings.kafka_bootstrap)
    try:
        topics = _own_topics(admin)
        if topics:
            admin.delete_topics(topics, timeout_ms=30_000, raise_errors=False)
        until(lambda: not _own_topics(admin), "the bench topics to be deleted", WAIT_S)
        for group, result in dict(admin.delete_groups([SINK_GROUP])).items():
            if result not in ("OK", "GroupIdNotFoundError"):
                raise StackError("kafka", f"cannot delete consumer group {group}: {result}")
    finally:
        admin.close()


def _create_topics(bench: Bench) -> None:
    """Create every table topic up front, so the sink's ``topics.regex`` subscription sees them all at
    once (a pattern subscription discovers topics created later only at the next metadata refresh, up
    to 5 minutes) and tables without rows get theirs too."""
    admin = KafkaAdminClient(bootstrap_servers=bench.settings.kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
        configs = {"cleanup.policy": "delete", "retention.ms": str(RETENTION_MS)}
        new = {
            name: {"num_partitions": PARTITIONS, "replication_factor": 1, "configs": configs}
            for name in (f"{TOPIC_PREFIX}.public.{t}" for t in bench.tables)
            if name not in existing
        }
        if new:
            admin.create_topics(new, timeout_ms=30_000, wait_for_metadata=True)
    finally:
        admin.close()


# -- Kafka Connect ------------------------------------------------------------------------------


class _Connect:
    """The few Kafka Connect REST calls this system needs. Errors name the call and Connect's message,
    never a configuration (it holds the sink's password)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return httpx.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        except httpx.HTTPError as exc:
            raise StackError("connect", f"{method} {path}: {type(exc).__name__}") from None

    def _ok(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._call(method, path, **kwargs)
        if response.status_code >= 400:
            raise StackError("connect", f"{method} {path}: {_message(response)}")
        return response

    def put(self, path: str) -> None:
        self._ok("PUT", path)

    def plugins(self) -> set[str]:
        try:
            response = httpx.get(f"{self.url}/connector-plugins", timeout=10)
        except httpx.HTTPError:
            return set()
        if response.status_code != 200:
            return set()
        return {str(p.get("class")) for p in response.json()}

    def status(self, name: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/connectors/{name}/status")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise StackError("connect", f"GET /connectors/{name}/status: {_message(response)}")
        result: dict[str, Any] = response.json()
        return result

    def wait_state(self, name: str, state: str, timeout: float = WAIT_S) -> None:
        """Wait until the connector and all its tasks are in ``state``; fail early on FAILED."""

        def reached() -> bool:
            status = self.status(name)
            _raise_if_failed(name, status)
            return _states(status) == {state}

        until(reached, f"{name} to be {state}", timeout)

    def check_not_failed(self, *names: str) -> None:
        for name in names:
            _raise_if_failed(name, self.status(name))

    def create_fresh(self, name: str, config: dict[str, str]) -> None:
        """Create the connector STOPPED, clear any offsets an earlier connector of that name left
        (source offsets; a sink's consumer group), then start it. An existing one is removed first."""
        self.remove(name)
        body = {"name": name, "config": config, "initial_state": "STOPPED"}
        self._ok("POST", "/connectors", json=body)
        self.wait_state(name, "STOPPED")
        self.reset_offsets(name)
        self.put(f"/connectors/{name}/resume")

    def reset_offsets(self, name: str) -> None:
        """Delete a stopped connector's offsets. A sink reported STOPPED can still hold its consumer
        group for a moment, and Connect then answers 500 ("can be safely retried"): retried until
        ``WAIT_S``."""

        def reset() -> bool:
            response = self._call("DELETE", f"/connectors/{name}/offsets")
            if response.status_code < 400:
                return True
            if response.status_code == 500 and "safely retried" in response.text:
                return False
            raise StackError("connect", f"DELETE /connectors/{name}/offsets: {_message(response)}")

        until(reset, f"{name}'s offsets to be deleted", WAIT_S, interval=1.0)

    def remove(self, name: str) -> None:
        """Stop the connector, delete its offsets, delete it, and wait until it is gone."""
        if self.status(name) is None:
            return
        self.put(f"/connectors/{name}/stop")
        until(lambda: _states(self.status(name)) <= {"STOPPED"}, f"{name} to stop", WAIT_S)
        if self.status(name) is not None:
            self.reset_offsets(name)
            self._ok("DELETE", f"/connectors/{name}")
        until(lambda: self.status(name) is None, f"{name} to be deleted", WAIT_S)


def _states(status: dict[str, Any] | None) -> set[str]:
    """The states of a connector and its tasks; empty when it does not exist."""
    if status is None:
        return set()
    states = {str(status.get("connector", {}).get("state"))}
    return states | {str(t.get("state")) for t in status.get("tasks", [])}


def _raise_if_failed(name: str, status: dict[str, Any] | None) -> None:
    """A FAILED connector or task will not recover by itself. Only the exception classes of the trace
    are reported: their messages can quote row values (a JDBC batch error quotes its statement)."""
    if status is None or "FAILED" not in _states(status):
        return
    traces = [str(t.get("trace") or "") for t in status.get("tasks", [])]
    traces.append(str(status.get("connector", {}).get("trace") or ""))
    trace = next((t for t in traces if t), "")
    causes = _EXCEPTION_CLASS.findall(trace)
    raise StackError(
        "connect",
        f"connector {name} FAILED ({' <- '.join(dict.fromkeys(causes)) or 'no trace'})",
        hint="see the Connect log for the full trace",
    )


_EXCEPTION_CLASS = re.compile(r"^(?:Caused by: )?([\w$.]+(?:Exception|Error))\b", re.MULTILINE)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}: {str(body.get('message', ''))[:400]}"
