"""Where the local stack keeps its files, and the config files it writes. Pure: no I/O here."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from replicator.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_LOCAL = REPO_ROOT / "deploy" / "local"
KAFKA_POM = DEPLOY_LOCAL / "kafka" / "pom.xml"
DEBEZIUM_POM = DEPLOY_LOCAL / "debezium" / "pom.xml"
PG_DATA_ROOT_AS_ROOT = Path("/var/lib/replicator/stacks")


@dataclass(frozen=True, slots=True)
class Layout:
    """Every path of one local stack, derived from its state directory."""

    state_dir: Path
    pg_root: Path

    OWNER_FILE = "state-dir"

    @classmethod
    def for_state_dir(cls, state_dir: Path, *, euid: int | None = None) -> Layout:
        """As root, PostgreSQL runs as ``postgres``, which may not traverse the state dir (a mktemp
        parent is 0700), so its data lives under /var/lib/replicator, keyed by the state dir."""
        state_dir = state_dir.absolute()
        if (os.geteuid() if euid is None else euid) == 0:
            digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
            pg_root = PG_DATA_ROOT_AS_ROOT / digest
        else:
            pg_root = state_dir / "pg"
        return cls(state_dir=state_dir, pg_root=pg_root)

    @property
    def pg_root_shared(self) -> bool:
        """True when the data root lives outside the state dir, beside other stacks' roots."""
        return self.pg_root.parent != self.state_dir

    @property
    def owner_file(self) -> Path:
        """In a data root outside the state dir: which state dir owns it (see stack.leftovers)."""
        return self.pg_root / self.OWNER_FILE

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run(self) -> Path:
        return self.state_dir / "run"

    @property
    def lib(self) -> Path:
        """The Kafka broker and Connect runtime classpath (every jar of deploy/local/kafka/pom.xml)."""
        return self.state_dir / "lib" / "kafka"

    @property
    def plugins(self) -> Path:
        """Kafka Connect's plugin.path."""
        return self.state_dir / "plugins"

    @property
    def debezium_plugin(self) -> Path:
        return self.plugins / "debezium-connector-postgres"

    @property
    def kafka_data(self) -> Path:
        return self.state_dir / "kafka" / "data"

    @property
    def config(self) -> Path:
        return self.state_dir / "config"

    @property
    def secrets_env(self) -> Path:
        return self.state_dir / "stack.env"

    def pg_data(self, name: str) -> Path:
        return self.pg_root / name

    def pg_log(self, name: str) -> Path:
        return self.pg_root / f"{name}.log"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"


def postgresql_conf(*, port: int, logical: bool) -> str:
    """Settings appended to a fresh cluster's postgresql.conf. TCP on loopback only, no socket."""
    lines = [
        "# written by replicator stack",
        "listen_addresses = '127.0.0.1'",
        f"port = {port}",
        "unix_socket_directories = ''",
        "shared_buffers = 32MB",
        "max_connections = 60",
        "fsync = on",
        "synchronous_commit = on",
        "log_min_messages = warning",
        "log_line_prefix = '%m [%p] %u@%d '",
        # Never log statement text: it can carry row payloads.
        "log_min_error_statement = panic",
        # Commit timestamps make end-to-end lag measurable commit to commit (bench/lag.py).
        "track_commit_timestamp = on",
    ]
    if logical:
        lines += [
            "wal_level = logical",
            "max_wal_senders = 8",
            "max_replication_slots = 8",
            "max_slot_wal_keep_size = 4GB",
        ]
    return "\n".join(lines) + "\n"


PG_HBA = """\
# written by replicator stack: password auth on loopback only
host    all          all  127.0.0.1/32  scram-sha-256
host    replication  all  127.0.0.1/32  scram-sha-256
"""


def kafka_server_properties(settings: StackSettings, data_dir: Path) -> str:
    """A single-node KRaft broker+controller on loopback."""
    return f"""\
# written by replicator stack
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{settings.controller_port}
listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port},CONTROLLER://127.0.0.1:{settings.controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data_dir}
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
"""


def connect_worker_properties(settings: StackSettings, *, kafka_port: int, plugin_path: Path) -> str:
    """A one-worker Kafka Connect cluster in distributed mode."""
    return f"""\
# written by replicator stack
bootstrap.servers=127.0.0.1:{kafka_port}
group.id=replicator-connect
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
config.storage.topic=_connect-configs
offset.storage.topic=_connect-offsets
status.storage.topic=_connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=5
status.storage.partitions=3
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:{settings.connect_port}
rest.advertised.host.name=127.0.0.1
rest.advertised.port={settings.connect_port}
plugin.path={plugin_path}
plugin.discovery=service_load
topic.creation.enable=true
config.providers=env
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
"""


LOG4J_PROPERTIES = """\
# written by replicator stack
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.reflections=ERROR
"""

JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
