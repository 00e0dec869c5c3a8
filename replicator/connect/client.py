"""A small client for the Kafka Connect REST API."""

from __future__ import annotations

from typing import Any

import httpx

from replicator.connect.config import ConnectorConfig
from replicator.errors import TerminalError, TransientError


class ConnectClient:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)
        self.url = url

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransientError(f"Kafka Connect at {self.url} unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 409:  # 409: rebalance in progress
            raise TransientError(f"Kafka Connect {method} {path}: HTTP {response.status_code}")
        return response

    def put_config(self, connector: ConnectorConfig) -> dict[str, Any]:
        """Create or update (idempotent). Connect validates the config first; errors name the fields."""
        response = self._call("PUT", f"/connectors/{connector.name}/config", json=connector.config)
        if response.status_code >= 400:
            raise TerminalError(f"Kafka Connect rejected {connector.name}: {_summary(response)}")
        result: dict[str, Any] = response.json()
        return result

    def status(self, name: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/connectors/{name}/status")
        if response.status_code == 404:
            return None
        result: dict[str, Any] = response.json()
        return result

    def restart(self, name: str) -> None:
        self._call(
            "POST", f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"}
        )

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/connectors/{name}")


def _summary(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    message = str(body.get("message", ""))[:800]
    return f"HTTP {response.status_code}: {message}"


def running(status: dict[str, Any] | None) -> bool:
    """The connector and all its tasks are RUNNING."""
    if not status or status.get("connector", {}).get("state") != "RUNNING":
        return False
    tasks = status.get("tasks", [])
    return bool(tasks) and all(t.get("state") == "RUNNING" for t in tasks)
