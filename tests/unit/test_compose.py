"""docker-compose.yml cannot run here: these checks keep it consistent with connectors/ and the stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from replicator.connect.config import load_connector
from replicator.stack.layout import DEBEZIUM_POM, KAFKA_POM

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def _pom_property(pom: Path, name: str) -> str:
    match = re.search(rf"<{name}>([^<]+)</{name}>", pom.read_text())
    assert match, f"{name} not in {pom}"
    return match.group(1)


def test_compose_parses_and_has_the_whole_topology() -> None:
    """The compose file parses and declares V1, V2, Kafka, Connect, the worker, Prometheus and Grafana."""
    services = _compose()["services"]
    assert {"postgres-v1", "postgres-v2", "kafka", "connect", "worker", "prometheus", "grafana"} <= set(
        services
    )


def test_compose_pins_the_same_versions_as_the_local_stack() -> None:
    """Kafka and Debezium image tags equal the versions pinned in deploy/local's poms."""
    services = _compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{_pom_property(KAFKA_POM, 'kafka.version')}"
    assert services["connect"]["image"] == (
        f"quay.io/debezium/connect:{_pom_property(DEBEZIUM_POM, 'debezium.version')}"
    )


def test_compose_feeds_every_env_reference_of_the_connector() -> None:
    """Every ${env:NAME} of the connector file is set on the Connect service, with the env provider on."""
    connector = load_connector()
    wanted = set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", str(connector.config)))
    connect_env = _compose()["services"]["connect"]["environment"]
    assert wanted and wanted <= set(connect_env)
    assert connect_env["CONNECT_CONFIG_PROVIDERS"] == "env"
    assert connect_env["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"].endswith("EnvVarConfigProvider")


def test_compose_v1_is_logical_and_connector_class_matches() -> None:
    """V1 runs with wal_level=logical and the connector is Debezium's PostgreSQL connector over pgoutput."""
    command = " ".join(_compose()["services"]["postgres-v1"]["command"])
    assert "wal_level=logical" in command
    config = load_connector().config
    assert config["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert config["plugin.name"] == "pgoutput"


def test_compose_holds_no_inline_password() -> None:
    """Passwords in the compose file are ${VAR} references, never literals."""
    text = (REPO / "docker-compose.yml").read_text()
    for line in text.splitlines():
        if "PASSWORD" in line and ":" in line:
            value = line.split(":", 1)[1].strip()
            assert value.startswith("${") or value == "", line


def test_the_image_runs_the_package_where_its_connector_file_and_mapping_are() -> None:
    """Every command reads connectors/v1-source.json (slot, publication, topic prefix) and the default
    mapping beside the package; a plain ``pip install .`` puts the package in site-packages, away from
    them, and every command in the image failed ("cannot read JSON … No such file")."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY connectors ./connectors" in dockerfile and "COPY schemas ./schemas" in dockerfile
    assert "pip install --no-cache-dir -e ." in dockerfile
