"""Pure parts of the local stack and the connector configuration."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from replicator.connect import config as connector_file
from replicator.connect.config import load_connector
from replicator.errors import ConfigError, StackError
from replicator.settings import Settings, StackSettings
from replicator.stack.layout import (
    Layout,
    connect_worker_properties,
    kafka_server_properties,
    postgresql_conf,
)


def test_postgres_data_moves_out_of_the_state_dir_when_running_as_root(tmp_path: Path) -> None:
    """As root, PostgreSQL data lives where the postgres user can reach it; otherwise under the state dir."""
    as_root = Layout.for_state_dir(tmp_path, euid=0)
    assert not str(as_root.pg_root).startswith(str(tmp_path))
    assert as_root.pg_root == Layout.for_state_dir(tmp_path, euid=0).pg_root  # stable per state dir
    assert Layout.for_state_dir(tmp_path, euid=1000).pg_root == tmp_path / "pg"


def test_v1_is_logical_and_both_clusters_listen_on_loopback_only() -> None:
    """V1 gets wal_level=logical; both clusters listen on 127.0.0.1 only and never log statements."""
    v1, v2 = postgresql_conf(port=1, logical=True), postgresql_conf(port=2, logical=False)
    assert "wal_level = logical" in v1 and "wal_level" not in v2
    assert all(
        "listen_addresses = '127.0.0.1'" in c and "log_min_error_statement = panic" in c for c in (v1, v2)
    )


def test_kafka_and_connect_properties_use_the_configured_ports(tmp_path: Path) -> None:
    """Broker, controller and Connect REST ports come from settings; Connect resolves ${env:…} references."""
    s = StackSettings(kafka_port=1111, controller_port=2222, connect_port=3333)
    broker = kafka_server_properties(s, tmp_path)
    assert "PLAINTEXT://127.0.0.1:1111" in broker and "1@127.0.0.1:2222" in broker
    connect = connect_worker_properties(s, kafka_port=1111, plugin_path=tmp_path)
    assert "listeners=http://127.0.0.1:3333" in connect
    assert "EnvVarConfigProvider" in connect and f"plugin.path={tmp_path}" in connect


def test_shipped_connector_config_is_valid() -> None:
    """The shipped connector: pgoutput, pre-created publication, heartbeats, exact decimals, tombstones."""
    config = load_connector().config
    assert config["plugin.name"] == "pgoutput"
    assert config["publication.autocreate.mode"] == "disabled"
    assert config["decimal.handling.mode"] == "string"
    assert config["tombstones.on.delete"] == "true"
    assert (
        int(config["heartbeat.interval.ms"]) > 0
        and "replicator.heartbeat" in config["heartbeat.action.query"]
    )
    assert config["value.converter.schemas.enable"] == "false"


def _write(tmp_path: Path, config: dict[str, str]) -> Path:
    base = orjson.loads(connector_file.V1_SOURCE.read_bytes())
    base["config"].update(config)
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps(base))
    return path


def test_inline_password_is_refused_with_the_field_named(tmp_path: Path) -> None:
    """A literal password in the connector file stops with the field and a valid alternative named."""
    with pytest.raises(ConfigError) as info:
        load_connector(_write(tmp_path, {"database.password": "hunter2"}))
    assert info.value.field == "config.database.password"
    assert "${env:" in str(info.value) and "hunter2" not in str(info.value)


def test_publication_autocreate_is_refused(tmp_path: Path) -> None:
    """Publication autocreation (needs a superuser) is refused with the valid value named."""
    with pytest.raises(ConfigError, match="valid: disabled"):
        load_connector(_write(tmp_path, {"publication.autocreate.mode": "all_tables"}))


@pytest.mark.parametrize("key", ["slot.name", "publication.name"])
@pytest.mark.parametrize("value", ["Replicator", "v1-slot", "", "x" * 64, "v1\n"])
def test_slot_and_publication_names_must_be_plain(tmp_path: Path, key: str, value: str) -> None:
    """PostgreSQL refuses such a slot name only when Debezium first creates the slot: refused here."""
    with pytest.raises(ConfigError, match="lower-case letters, digits and underscores") as info:
        load_connector(_write(tmp_path, {key: value}))
    assert info.value.field == f"config.{key}"


def test_the_settings_follow_the_connector_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slot the drain, the fence, the cutover checks and the metrics watch, the topics' prefix and
    the connector's name are the file's, whatever it says: no second place to keep in step."""
    edited = _write(tmp_path, {"slot.name": "migration_7", "topic.prefix": "legacy"})
    monkeypatch.setattr(connector_file, "V1_SOURCE", edited)
    settings = Settings()
    assert (settings.slot, settings.topic_prefix) == ("migration_7", "legacy")
    assert settings.connector_name == orjson.loads(edited.read_bytes())["name"]


def test_no_module_names_the_slot_or_the_publication_itself() -> None:
    """They are read from the connector file (``ConnectorConfig.slot``, ``.publication``)."""
    shipped = load_connector()
    package = Path(connector_file.__file__).resolve().parents[1]
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert f'"{shipped.slot}"' not in text and f'"{shipped.publication}"' not in text, path


def test_stack_error_shows_the_log_tail() -> None:
    """A stack error prints the component, the problem, the fix and the last log lines."""
    error = StackError("kafka", "did not start", hint="free the port", log_path="/x.log", log_tail=["boom"])
    assert str(error).splitlines() == [
        "kafka: did not start",
        "  how to fix: free the port",
        "  log: /x.log",
        "  last lines of the log:",
        "    boom",
    ]
