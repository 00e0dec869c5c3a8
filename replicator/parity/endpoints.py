"""HTTP endpoint parity: request every endpoint of an inventory on V1 and on V2 and compare the JSON.

The inventory (``schemas/endpoints.json``, like the seed's function-endpoint-mapping.json)::

    {"version": 1,
     "defaults": {"timeout_s": 10, "ignore_paths": ["/meta/generated_at"], "headers": {}},
     "endpoints": [{"name": "team_sales", "function": "getTeamSales", "method": "GET",
                    "path": "/api/teams/{team_id}/sales", "v2_path": null,
                    "params": {"team_id": 7, "month": "2024-05"}, "body": null,
                    "ignore_paths": ["/items/*/etag"]}]}

``params`` fill the ``{placeholders}`` of the path; the others go to the query string. ``v2_path`` is for
an endpoint V2 serves under another path. Ignore-paths (defaults + the endpoint's own) are JSON pointers
with ``*`` / trailing ``**`` wildcards (``replicator.parity.jsondiff``).

Outcome per endpoint: ``pass``; ``fail`` (different status, or the differing JSON paths); ``missing_on_v2``
(V2 answers 404, or refuses the connection); ``error`` (V1 itself did not answer 2xx with a body to compare
against, so nothing can be said). Every request has a timeout, follows no redirect, and a body over
``MAX_BODY_BYTES`` is not read further. Bodies are never reported, only paths and status codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from replicator.errors import ConfigError
from replicator.parity.jsondiff import json_diff, validate_ignore_path

DEFAULT_ENDPOINTS = Path(__file__).resolve().parents[2] / "schemas" / "endpoints.json"
MAX_BODY_BYTES = 5 * 1024 * 1024
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    MISSING_ON_V2 = "missing_on_v2"
    ERROR = "error"


def _ignore_paths(value: list[str]) -> list[str]:
    for pointer in value:
        validate_ignore_path(pointer)
    return value


class Defaults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=10.0, gt=0, le=300)
    ignore_paths: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)

    _check_ignore = field_validator("ignore_paths")(_ignore_paths)


class Endpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    function: str | None = None
    method: Literal["GET", "POST"] = "GET"
    path: str
    v2_path: str | None = None
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    body: Any = None
    ignore_paths: list[str] = Field(default_factory=list)

    _check_ignore = field_validator("ignore_paths")(_ignore_paths)

    @field_validator("path", "v2_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> Endpoint:
        for path in (self.path, self.v2_path or self.path):
            for name in _PLACEHOLDER.findall(path):
                if name not in self.params:
                    raise ValueError(f"path placeholder {{{name}}} has no value in params")
        if self.body is not None and self.method == "GET":
            raise ValueError("a GET endpoint cannot have a body")
        return self

    def url_parts(self, side: Literal["v1", "v2"]) -> tuple[str, dict[str, str]]:
        """(path with placeholders filled, query parameters)."""
        template = self.path if side == "v1" or self.v2_path is None else self.v2_path
        used = set(_PLACEHOLDER.findall(self.path)) | set(_PLACEHOLDER.findall(self.v2_path or ""))
        path = _PLACEHOLDER.sub(lambda m: quote(_text(self.params[m.group(1)]), safe=""), template)
        return path, {k: _text(v) for k, v in self.params.items() if k not in used}


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class Inventory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    defaults: Defaults = Field(default_factory=Defaults)
    endpoints: list[Endpoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        names = [e.name for e in self.endpoints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate endpoint names: {dupes}")
        return self


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an endpoint inventory; ``ConfigError`` names the field (``endpoints[2].path``)."""
    source = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("(file)", source=source, problem=f"cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"line {exc.lineno}", source=source, problem=f"not valid JSON: {exc.msg}") from None
    try:
        return Inventory.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise ConfigError(
            loc or "(top level)",
            source=source,
            problem=str(err["msg"]).removeprefix("Value error, "),
            valid="see the inventory format in replicator/parity/endpoints.py",
        ) from None


# ---------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class Response:
    status: int | None  # None: no HTTP answer
    body: bytes = b""
    problem: str | None = None  # connection refused, timeout, body too large
    refused: bool = False


@dataclass(frozen=True, slots=True)
class EndpointResult:
    name: str
    method: str
    path: str
    outcome: Outcome
    detail: str
    status_v1: int | None = None
    status_v2: int | None = None
    diff_paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "status": self.outcome.value,
            "detail": self.detail,
            "status_v1": self.status_v1,
            "status_v2": self.status_v2,
            "diff_paths": self.diff_paths,
        }


def _parse(body: bytes) -> tuple[bool, object]:
    try:
        return True, json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return False, None


def judge(  # noqa: PLR0911 - one return per outcome rule
    endpoint: Endpoint, v1: Response, v2: Response, ignore: list[str]
) -> EndpointResult:
    """Decide one endpoint's outcome from its two responses. Pure."""
    path, _ = endpoint.url_parts("v1")

    def result(outcome: Outcome, detail: str, diffs: list[str] | None = None) -> EndpointResult:
        return EndpointResult(
            endpoint.name, endpoint.method, path, outcome, detail, v1.status, v2.status, diffs or []
        )

    if v1.status is None or not 200 <= v1.status < 300:
        return result(Outcome.ERROR, f"V1 did not answer 2xx ({v1.problem or v1.status}): nothing to compare")
    if v2.refused:
        return result(Outcome.MISSING_ON_V2, f"V2 refused the connection ({v2.problem})")
    if v2.status == 404:
        return result(Outcome.MISSING_ON_V2, "V2 answered 404")
    if v2.status is None:
        return result(Outcome.FAIL, f"V2 did not answer: {v2.problem}")
    if v1.status != v2.status:
        return result(Outcome.FAIL, f"status differs (V1 {v1.status}, V2 {v2.status})")
    ok1, doc1 = _parse(v1.body)
    ok2, doc2 = _parse(v2.body)
    if not (ok1 and ok2):
        if v1.body == v2.body:
            return result(Outcome.PASS, "identical non-JSON bodies")
        side = "V1" if not ok1 else "V2"
        return result(Outcome.FAIL, f"{side} body is not JSON and the bodies differ", [""])
    diffs = json_diff(doc1, doc2, ignore)
    if diffs:
        return result(Outcome.FAIL, f"{len(diffs)} differing path(s): {', '.join(diffs[:5])}", diffs)
    return result(Outcome.PASS, "identical JSON" + (" (outside ignore-paths)" if ignore else ""))


def fetch(client: httpx.Client, base_url: str, endpoint: Endpoint, side: Literal["v1", "v2"]) -> Response:
    """One bounded request: timeout from the client, no redirects, at most MAX_BODY_BYTES read."""
    path, query = endpoint.url_parts(side)
    url = base_url.rstrip("/") + path
    try:
        with client.stream(
            endpoint.method, url, params=query, json=endpoint.body if endpoint.method == "POST" else None
        ) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    return Response(response.status_code, problem=f"body larger than {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
            return Response(response.status_code, b"".join(chunks))
    except httpx.ConnectError as exc:
        return Response(None, problem=f"connection failed: {type(exc).__name__}", refused=True)
    except httpx.TimeoutException as exc:
        return Response(None, problem=f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Response(None, problem=f"HTTP error: {type(exc).__name__}")


def run_endpoints(
    inventory: Inventory,
    v1_url: str,
    v2_url: str,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[EndpointResult]:
    """Request each endpoint on V1 then V2, sequentially (gentle on both), and judge it."""
    defaults = inventory.defaults
    timeout = httpx.Timeout(defaults.timeout_s, connect=min(5.0, defaults.timeout_s))
    headers = {"Accept": "application/json", **defaults.headers}
    out = []
    with httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client:
        for done, endpoint in enumerate(inventory.endpoints, 1):
            v1 = fetch(client, v1_url, endpoint, "v1")
            v2 = fetch(client, v2_url, endpoint, "v2")
            out.append(judge(endpoint, v1, v2, [*defaults.ignore_paths, *endpoint.ignore_paths]))
            if progress is not None:
                progress("endpoints", done, len(inventory.endpoints))
    return out
