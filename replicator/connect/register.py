"""Registering the V1 source connector and waiting until it runs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from replicator.connect.client import ConnectClient, running
from replicator.connect.config import load_connector
from replicator.errors import StackError

__all__ = ["register_connector"]

POLL_S = 0.1
"""Status polls while the task starts (a GET each): a start usually takes under a second, and the
initial load's time includes the wait."""


def register_connector(
    connect_url: str, *, wait: float = 60.0, overrides: Mapping[str, str] | None = None
) -> None:
    """PUT the connector (with ``overrides`` on top of connectors/v1-source.json) and wait until it runs."""
    connector = load_connector()
    if overrides:
        connector = replace(connector, config={**connector.config, **overrides})
    client = ConnectClient(connect_url)
    client.put_config(connector)
    deadline = time.monotonic() + wait
    status = client.status(connector.name)
    while not running(status) and time.monotonic() < deadline:
        time.sleep(POLL_S)
        status = client.status(connector.name)
    if not running(status):
        trace = ""
        for task in (status or {}).get("tasks", []):
            trace = str(task.get("trace", "")).splitlines()[0] if task.get("trace") else trace
        raise StackError("connect", f"{connector.name} is not RUNNING after {wait:.0f}s: {trace}")
