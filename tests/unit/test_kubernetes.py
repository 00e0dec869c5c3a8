"""deploy/kubernetes cannot be applied here (no cluster): these checks keep it consistent with the
connector file, the pinned versions, the settings and the monitoring files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from replicator.connect.config import load_connector
from replicator.settings import ENV_PREFIX, Settings
from replicator.stack.layout import DEBEZIUM_POM, KAFKA_POM
from tests.unit.test_compose import _pom_property

K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
CLUSTER_OVERRIDES = {"topic.creation.default.replication.factor"}  # three brokers there, one locally


def documents() -> list[dict[str, Any]]:
    files = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    return [doc for name in files for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    kinds = {d["kind"] for d in documents()}
    assert {"Kafka", "KafkaNodePool", "KafkaConnect", "KafkaConnector", "Deployment", "PodMonitor"} <= kinds


def test_the_connector_is_the_connector_file() -> None:
    """Strimzi's KafkaConnector holds connectors/v1-source.json's configuration (class and tasks.max at
    spec level), except the replication factor a three-broker cluster sets."""
    connector = load_connector()
    spec = one("KafkaConnector")["spec"]
    config = dict(connector.config)
    assert spec["class"] == config.pop("connector.class")
    assert spec["tasksMax"] == int(config.pop("tasks.max"))
    differing = {k for k in config.keys() | spec["config"].keys() if config.get(k) != spec["config"].get(k)}
    assert differing == CLUSTER_OVERRIDES


def test_connect_feeds_the_connector_and_pins_the_local_versions() -> None:
    connect = one("KafkaConnect")["spec"]
    wanted = set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", str(load_connector().config)))
    env = {e["name"]: e for e in connect["template"]["connectContainer"]["env"]}
    assert wanted <= env.keys()
    assert all("valueFrom" in e for name, e in env.items() if "PASSWORD" in name)
    assert connect["config"]["config.providers.env.class"].endswith("EnvVarConfigProvider")
    debezium = _pom_property(DEBEZIUM_POM, "debezium.version")
    assert [a["version"] for p in connect["build"]["plugins"] for a in p["artifacts"]] == [debezium]
    kafka = _pom_property(KAFKA_POM, "kafka.version")
    assert connect["version"] == kafka == one("Kafka")["spec"]["kafka"]["version"]


def test_the_workers_fit_the_partitions_and_probe_their_own_port() -> None:
    worker = one("Deployment", "replicator-worker")["spec"]
    partitions = int(load_connector().config["topic.creation.default.partitions"])
    assert 1 <= worker["replicas"] <= partitions
    container = worker["template"]["spec"]["containers"][0]
    port = container["ports"][0]
    assert port["containerPort"] == Settings.model_fields["worker_web_port"].default
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": port["name"]}


def test_the_bootstrap_job_runs_the_bootstrap_with_the_workers_settings() -> None:
    """The publication, roles and state schema exist before the connector and the workers need them."""
    job = one("Job", "replicator-db-bootstrap")["spec"]["template"]["spec"]["containers"][0]
    worker = one("Deployment", "replicator-worker")["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["replicator", "db", "bootstrap"]
    assert job["envFrom"] == worker["envFrom"] and job["image"] == worker["image"]


def test_every_setting_in_the_manifests_exists() -> None:
    """Each REPLICATOR_… variable (ConfigMap and Secret keys) names a settings field, nested with __."""
    endpoints = one("ConfigMap", "replicator-endpoints")["data"]
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"]
    for name in [*endpoints, *secret]:
        path = name.removeprefix(ENV_PREFIX).lower().split("__")
        field = Settings.model_fields[path[0]]
        if len(path) > 1:
            assert path[1] in type(field.default).model_fields, name
        assert "PASSWORD" not in name or name in secret, f"{name}: passwords belong in the Secret"


def test_scrape_jobs_match_the_alerts() -> None:
    """The PodMonitors name their jobs as deploy/prometheus's alerts and scrape config do."""
    jobs = {
        endpoint["relabelings"][0]["replacement"]
        for monitor in (d for d in documents() if d["kind"] == "PodMonitor")
        for endpoint in monitor["spec"]["podMetricsEndpoints"]
    }
    prometheus = yaml.safe_load((K8S.parent / "prometheus" / "prometheus.yml").read_text())
    assert jobs == {c["job_name"] for c in prometheus["scrape_configs"]}
    assert 'job="replicator"' in (K8S.parent / "prometheus" / "alerts.yml").read_text()
