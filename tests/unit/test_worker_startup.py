"""A worker started during an outage waits for PostgreSQL or Kafka with backoff; a bad configuration
still stops it at once. ``create_app`` is replaced: the real one is exercised by test_outage.py."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import pytest
from kafka.errors import KafkaTimeoutError

from replicator.errors import ConfigError
from replicator.worker import app as worker_app


def failing(times: int, error: Exception, calls: list[int]) -> Any:
    def create_app(settings: Any) -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "the app"

    return create_app


def test_an_outage_at_start_up_is_waited_out_with_doubling_capped_delays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(worker_app, "create_app", failing(6, psycopg.OperationalError("down"), calls))
    slept: list[float] = []
    made = worker_app.create_app_when_reachable(None, sleep=slept.append, backoff_max_s=10)  # type: ignore[arg-type]
    assert made == "the app" and len(calls) == 7
    assert slept == [1, 2, 4, 8, 10, 10]


def test_kafka_away_is_waited_out_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(worker_app, "create_app", failing(1, KafkaTimeoutError("bootstrap"), calls))
    assert worker_app.create_app_when_reachable(None, sleep=lambda _: None) == "the app"  # type: ignore[arg-type]
    assert "cannot start: Kafka unreachable (KafkaTimeoutError); retrying in 1s" in caplog.text


def test_a_bad_configuration_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    error = ConfigError("mapping", source="schemas/mapping.yaml", problem="bad", valid="good")
    monkeypatch.setattr(worker_app, "create_app", failing(1, error, calls))
    with pytest.raises(ConfigError):
        worker_app.create_app_when_reachable(None, sleep=lambda _: None)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_the_kafka_clients_repeats_are_held_back_before_faust_configures_logging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A start-up outage: the Kafka client's identical errors are printed once, with the worker's own
    retry lines, time-stamped, and never through Python's last-resort handler."""
    calls: list[int] = []
    client = logging.getLogger("kafka.client")

    def create_app(settings: Any) -> str:
        calls.append(1)
        for _ in range(20):
            client.error("Unable to connect to %s", "127.0.0.1:1")
        if len(calls) <= 2:
            raise KafkaTimeoutError("bootstrap")
        return "the app"

    monkeypatch.setattr(worker_app, "create_app", create_app)
    handlers = list(logging.getLogger().handlers)
    assert worker_app.create_app_when_reachable(None, sleep=lambda _: None) == "the app"  # type: ignore[arg-type]
    assert logging.getLogger().handlers == handlers  # the early handler is gone once Faust takes over
    err = capsys.readouterr().err
    assert err.count("Unable to connect to 127.0.0.1:1") == 1, err
    assert err.count("cannot start: Kafka unreachable") == 2
    assert all(line.startswith("[") for line in err.splitlines()), err
