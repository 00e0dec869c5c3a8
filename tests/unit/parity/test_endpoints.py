"""The endpoint inventory validates by field; each endpoint's outcome follows from its two responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replicator.errors import ConfigError
from replicator.parity.endpoints import (
    DEFAULT_ENDPOINTS,
    Endpoint,
    Outcome,
    Response,
    judge,
    load_inventory,
)

EP = Endpoint(name="sales", path="/api/teams/{team}/sales", params={"team": "a b", "month": "2024-05"})


def test_the_example_inventory_is_valid() -> None:
    """schemas/endpoints.json loads; placeholders are filled and quoted, other params go to the query."""
    inventory = load_inventory(DEFAULT_ENDPOINTS)
    assert len(inventory.endpoints) >= 4
    assert EP.url_parts("v1") == ("/api/teams/a%20b/sales", {"month": "2024-05"})


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        ({"name": "x", "path": "no-slash"}, "endpoints[0].path"),
        ({"name": "x", "path": "/a/{id}"}, "endpoints[0]"),
        ({"name": "x", "path": "/a", "method": "DELETE"}, "endpoints[0].method"),
        ({"name": "x", "path": "/a", "ignore_paths": ["nope"]}, "endpoints[0].ignore_paths"),
        ({"name": "x", "path": "/a", "extra": 1}, "endpoints[0].extra"),
    ],
)
def test_bad_inventory_names_the_field(tmp_path: Path, endpoint: dict[str, object], field: str) -> None:
    """An invalid entry stops loading with its path in the file."""
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"version": 1, "endpoints": [endpoint]}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    assert caught.value.field == field
    assert str(path) in str(caught.value)


def _ok(body: object, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode())


def test_outcomes() -> None:
    """pass / fail with paths / missing on V2 (404 or refused) / error when V1 itself fails."""
    body = {"total": 10, "generated_at": "x"}
    assert judge(EP, _ok(body), _ok(body), []).outcome is Outcome.PASS
    changed = judge(EP, _ok(body), _ok({"total": 11, "generated_at": "y"}), ["/generated_at"])
    assert changed.outcome is Outcome.FAIL and changed.diff_paths == ["/total"]
    assert "11" not in changed.detail
    assert judge(EP, _ok(body), _ok({}, 404), []).outcome is Outcome.MISSING_ON_V2
    refused = Response(None, problem="connection failed: ConnectError", refused=True)
    assert judge(EP, _ok(body), refused, []).outcome is Outcome.MISSING_ON_V2
    assert judge(EP, _ok(body), _ok(body, 500), []).outcome is Outcome.FAIL
    assert judge(EP, _ok(body), Response(None, problem="timed out"), []).outcome is Outcome.FAIL
    assert judge(EP, _ok(body, 500), _ok(body), []).outcome is Outcome.ERROR
    assert judge(EP, Response(200, b"plain"), Response(200, b"plain"), []).outcome is Outcome.PASS
