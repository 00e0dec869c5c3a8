"""The Debezium source connector's configuration, read from ``connectors/``. Pure.

The JSON file is the single description used by the local stack, docker-compose and Kubernetes.
It holds no host, user or password: those are ``${env:...}`` references resolved by Kafka Connect's
EnvVarConfigProvider on the Connect worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from replicator.errors import ConfigError

CONNECTORS_DIR = Path(__file__).resolve().parents[2] / "connectors"
V1_SOURCE = CONNECTORS_DIR / "v1-source.json"
SECRET_KEYS = ("database.password",)
ENV_REFERENCE = re.compile(r"^\$\{env:[A-Z0-9_]+\}$")
POSTGRES_NAME = re.compile(r"[a-z0-9_]{1,63}")
"""A replication slot's name as PostgreSQL accepts it; publications are held to the same form."""
REQUIRED = (
    "connector.class",
    "plugin.name",
    "topic.prefix",
    "slot.name",
    "publication.name",
    "publication.autocreate.mode",
    "table.include.list",
)


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    name: str
    config: dict[str, str]

    @property
    def topic_prefix(self) -> str:
        return self.config["topic.prefix"]

    @property
    def slot(self) -> str:
        """V1's replication slot: the drain, the fence, the cutover checks and the metrics read it."""
        return self.config["slot.name"]

    @property
    def publication(self) -> str:
        """V1's publication, which ``replicator db bootstrap`` creates (Debezium may not)."""
        return self.config["publication.name"]

    def heartbeat_topic(self) -> str:
        prefix = self.config.get("topic.heartbeat.prefix", "__debezium-heartbeat")
        return f"{prefix}.{self.topic_prefix}"

    def table_topic(self, schema: str, table: str) -> str:
        return f"{self.topic_prefix}.{schema}.{table}"

    def payload(self) -> dict[str, Any]:
        return {"name": self.name, "config": dict(self.config)}


def load_connector(path: Path | None = None) -> ConnectorConfig:
    """Read and check a connector file (by default ``V1_SOURCE``): required keys present, secrets only as
    env references, plain slot and publication names."""
    path = V1_SOURCE if path is None else path
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError("connector", source=str(path), problem=f"cannot read JSON: {exc}") from None
    name, config = raw.get("name"), raw.get("config")
    if not isinstance(name, str) or not isinstance(config, dict):
        raise ConfigError(
            "name/config", source=str(path), problem="missing", valid='{"name": "...", "config": {...}}'
        )
    for key in REQUIRED:
        if key not in config:
            raise ConfigError(f"config.{key}", source=str(path), problem="missing")
    for key in SECRET_KEYS:
        value = config.get(key, "")
        if not ENV_REFERENCE.match(str(value)):
            raise ConfigError(
                f"config.{key}",
                source=str(path),
                problem="holds an inline value",
                valid="a config-provider reference such as ${env:V1_DB_REPLICATION_PASSWORD}",
            )
    for key in ("slot.name", "publication.name"):
        if not POSTGRES_NAME.fullmatch(str(config[key])):
            raise ConfigError(
                f"config.{key}",
                source=str(path),
                problem=f"{config[key]!r} is not a plain PostgreSQL name",
                valid="1 to 63 lower-case letters, digits and underscores",
            )
    if config["publication.autocreate.mode"] != "disabled":
        raise ConfigError(
            "config.publication.autocreate.mode",
            source=str(path),
            problem="the publication is pre-created; autocreate needs a superuser",
            valid="disabled",
        )
    return ConnectorConfig(name=name, config={k: str(v) for k, v in config.items()})
