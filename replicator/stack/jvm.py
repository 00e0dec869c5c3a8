"""The JVM components of the local stack: a single-node KRaft Kafka broker and a Kafka Connect worker."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from replicator.errors import StackError
from replicator.settings import Settings
from replicator.stack.installs import java
from replicator.stack.layout import (
    JVM_FLAGS,
    LOG4J_PROPERTIES,
    Layout,
    connect_worker_properties,
    kafka_server_properties,
)
from replicator.stack.process import (
    pid_alive,
    port_open,
    read_pid,
    run,
    spawn,
    stop_pid,
    wait_until,
)

POSTGRES_CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"


@dataclass(frozen=True, slots=True)
class JavaService:
    """A JVM process tracked by its pid file, healthy when ``probe`` says so."""

    component: str
    port: int
    main_class: str
    config_file: Path
    heap_mb: int
    layout: Layout
    probe: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.layout.log(self.component)

    @property
    def pid_file(self) -> Path:
        return self.layout.pid_file(self.component)

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def running(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def healthy(self) -> bool:
        return self.running() and self.probe()

    def argv(self) -> list[str]:
        return [
            java(),
            f"-Xms{self.heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            *JVM_FLAGS,
            f"-Dlog4j.configuration=file:{self.layout.config / 'log4j.properties'}",
            "-cp",
            f"{self.layout.lib}/*",
            self.main_class,
            str(self.config_file),
        ]

    def start(self, timeout: float) -> None:
        if self.running():
            wait_until(
                self.component, self.probe, timeout=timeout, log_path=self.log_path, alive=self.running
            )
            return
        if port_open(self.port):
            raise StackError(
                self.component,
                f"port {self.port} is already taken by another process",
                hint="stop it, or choose other ports with REPLICATOR_STACK__*_PORT",
            )
        self.layout.run.mkdir(parents=True, exist_ok=True)
        spawn(
            self.component,
            self.argv(),
            log_path=self.log_path,
            pid_file=self.pid_file,
            env={**os.environ, **self.env},
        )
        wait_until(self.component, self.probe, timeout=timeout, log_path=self.log_path, alive=self.running)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None and pid_alive(pid):
            stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)


def kafka_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (what StorageTool prints)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def broker(settings: Settings, layout: Layout) -> JavaService:
    return JavaService(
        component="kafka",
        port=settings.stack.kafka_port,
        main_class="kafka.Kafka",
        config_file=layout.config / "server.properties",
        heap_mb=settings.stack.broker_heap_mb,
        layout=layout,
        probe=lambda: broker_healthy(settings),
    )


def connect(settings: Settings, layout: Layout) -> JavaService:
    v1 = settings.v1_replication
    return JavaService(
        component="connect",
        port=settings.stack.connect_port,
        main_class="org.apache.kafka.connect.cli.ConnectDistributed",
        config_file=layout.config / "connect-distributed.properties",
        heap_mb=settings.stack.connect_heap_mb,
        layout=layout,
        probe=lambda: connect_healthy(settings),
        # Read by the connector config through Connect's EnvVarConfigProvider (${env:...}):
        # the connector JSON in connectors/ holds no host, user or secret.
        env={
            "V1_DB_HOST": v1.host,
            "V1_DB_PORT": str(v1.port),
            "V1_DB_NAME": v1.dbname,
            "V1_DB_REPLICATION_USER": v1.user,
            "V1_DB_REPLICATION_PASSWORD": v1.password.get_secret_value(),
        },
    )


def write_configs(settings: Settings, layout: Layout) -> None:
    layout.config.mkdir(parents=True, exist_ok=True)
    (layout.config / "log4j.properties").write_text(LOG4J_PROPERTIES)
    (layout.config / "server.properties").write_text(
        kafka_server_properties(settings.stack, layout.kafka_data)
    )
    (layout.config / "connect-distributed.properties").write_text(
        connect_worker_properties(
            settings.stack, kafka_port=settings.stack.kafka_port, plugin_path=layout.plugins
        )
    )


def format_storage(settings: Settings, layout: Layout) -> None:
    """Format KRaft storage once; later starts reuse it."""
    if (layout.kafka_data / "meta.properties").exists():
        return
    layout.kafka_data.mkdir(parents=True, exist_ok=True)
    run(
        "kafka",
        [
            java(),
            "-cp",
            f"{layout.lib}/*",
            f"-Dlog4j.configuration=file:{layout.config / 'log4j.properties'}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            kafka_cluster_id(),
            "-c",
            str(layout.config / "server.properties"),
        ],
    )


def broker_healthy(settings: Settings) -> bool:
    if not port_open(settings.stack.kafka_port):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        return len(admin.describe_cluster().get("brokers", [])) > 0
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def connect_healthy(settings: Settings) -> bool:
    """Connect's REST API answers and the Debezium PostgreSQL plugin is loaded."""
    try:
        response = httpx.get(f"{settings.connect_url}/connector-plugins", timeout=3)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and any(
        p.get("class") == POSTGRES_CONNECTOR_CLASS for p in response.json()
    )
