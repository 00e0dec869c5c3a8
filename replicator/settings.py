"""One frozen settings object.

Environment variables use the prefix ``REPLICATOR_`` and ``__`` for nesting
(``REPLICATOR_V1__PORT=5432``). Values not set in the environment are read from the local stack's
``<state_dir>/stack.env`` (written by ``replicator stack up``, mode 0600), then fall back to the
local-stack defaults below. Passwords are ``SecretStr``: printing settings never prints them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from replicator.connect.config import load_connector
from replicator.errors import ConfigError

ENV_PREFIX = "REPLICATOR_"
STATE_DIR_ENV = "REPLICATOR_STATE_DIR"
STACK_ENV_FILE = "stack.env"


class PostgresEndpoint(BaseModel):
    """Where and as whom to connect to one PostgreSQL database."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    dbname: str = "brokerage"
    user: str
    password: SecretStr = SecretStr("")

    def conninfo(self, *, dbname: str | None = None) -> str:
        """A libpq connection string. Contains the password: hand it to the driver, never to a log."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=str(self.port),
            dbname=dbname or self.dbname,
            user=self.user,
            password=self.password.get_secret_value(),
            connect_timeout="5",
            application_name="replicator",
        )

    def describe(self) -> str:
        """A printable description without the password."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"


class StackSettings(BaseModel):
    """The local stack: ports, heaps, pinned artifacts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v1_port: int = 25432
    v2_port: int = 25433
    kafka_port: int = 29092
    controller_port: int = 29093
    connect_port: int = 28083
    broker_heap_mb: int = Field(default=512, ge=128)
    connect_heap_mb: int = Field(default=384, ge=128)
    start_timeout_s: float = Field(default=120.0, gt=0)


class Settings(BaseSettings):
    """Everything the product reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    state_dir: Path = Path(".stack")
    stack: StackSettings = StackSettings()
    v1_admin: PostgresEndpoint = PostgresEndpoint(port=25432, user="postgres")
    v1_replication: PostgresEndpoint = PostgresEndpoint(port=25432, user="debezium")
    v2_admin: PostgresEndpoint = PostgresEndpoint(port=25433, user="postgres")
    v2_writer: PostgresEndpoint = PostgresEndpoint(port=25433, user="replicator_writer")
    kafka_bootstrap: str = "127.0.0.1:29092"
    connect_url: str = "http://127.0.0.1:28083"
    consumer_group: str = "replicator"
    dead_letter_topic: str = "replicator.dlq"
    mapping_path: Path = Path(__file__).resolve().parents[1] / "schemas" / "mapping.yaml"
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 26066

    # The connector's names come from its file, which Kafka Connect runs: one source of truth, so that
    # the workers, the drain, the fence and the cutover checks always watch what Debezium writes.
    @property
    def connector_name(self) -> str:
        return load_connector().name

    @property
    def topic_prefix(self) -> str:
        return load_connector().topic_prefix

    @property
    def slot(self) -> str:
        return load_connector().slot


def state_dir_from_env() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV, ".stack")).absolute()


def load_settings(state_dir: Path | None = None) -> Settings:
    """Load settings; a bad value stops here with the field, its source and what is valid."""
    state = (state_dir or state_dir_from_env()).absolute()
    env_file = state / STACK_ENV_FILE
    try:
        return Settings(
            _env_file=env_file if env_file.exists() else None,
            state_dir=state,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "__".join(str(part) for part in first["loc"]).upper()
        raise ConfigError(
            f"{ENV_PREFIX}{field}",
            source=f"environment or {env_file}",
            problem=first["msg"],
            valid=str(first.get("ctx", {}) or "see replicator/settings.py"),
        ) from None
