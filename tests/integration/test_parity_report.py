"""Parity and report on real PostgreSQL (V1 and V2 only) and real local HTTP servers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from replicator.cli.parity import parity
from replicator.cli.report import report
from replicator.db.bootstrap import bootstrap
from replicator.demo import spec
from replicator.demo.generate import generate
from replicator.demo.load import SCHEMAS_DIR, seed, seed_v1, seed_v2
from replicator.demo.v2 import build_v2
from replicator.mapping.model import load_mapping
from replicator.parity import store
from replicator.parity.calculations import load_calculations, run_calculations
from replicator.parity.endpoints import Inventory, Outcome, run_endpoints
from replicator.report.figures import Report, build_report, collect
from replicator.settings import Settings
from replicator.stack.manager import Stack, open_stack

pytestmark = pytest.mark.integration

SCALE = 0.05
MAPPING = load_mapping(SCHEMAS_DIR / "mapping.yaml")
CALCS = load_calculations()


@pytest.fixture(scope="module")
def pg() -> Iterator[Stack]:
    """Only the two PostgreSQL clusters of this session's stack, bootstrapped (no Kafka needed here)."""
    stack = open_stack()
    started = [c for c in stack.postgres() if not c.running()]
    for cluster in started:
        cluster.start(stack.settings.stack.start_timeout_s)
    bootstrap(stack.settings)
    yield stack
    for cluster in reversed(started):  # stop exactly what this module started
        cluster.stop()


@pytest.fixture
def conns(pg: Stack) -> Iterator[tuple[psycopg.Connection[Any], psycopg.Connection[Any]]]:
    s: Settings = pg.settings
    with (
        psycopg.connect(s.v1_admin.conninfo(), autocommit=True) as v1,
        psycopg.connect(s.v2_admin.conninfo(), autocommit=True) as v2,
    ):
        yield v1, v2


def _report(v1: psycopg.Connection[Any], v2: psycopg.Connection[Any]) -> tuple[Report, dict[str, Any]]:
    result = build_report(collect(v1, v2, MAPPING, CALCS))
    return result, {r.metric: r for r in result.rows}


def test_every_calculation_passes_on_the_complete_v2(conns: tuple[Any, Any]) -> None:
    """With V2 as a correct, complete migration would leave it, all 12 calculation pairs match exactly."""
    v1, v2 = conns
    data = generate(SCALE, spec.DEFAULT_SEED)
    seed_v1(v1, data)
    seed_v2(v2, build_v2(data, MAPPING, complete=True))
    results = run_calculations(CALCS, v1, v2)
    assert [(r.name, r.detail) for r in results if not r.passed] == []
    assert len(results) == 12


def test_report_on_the_complete_v2_reaches_the_record_target(conns: tuple[Any, Any]) -> None:
    """Complete V2: records present == expected, nothing missing; every V2 FK enforced; V1 orphans remain."""
    v1, v2 = conns
    _, rows = _report(v1, v2)
    records = rows["Data Records"]
    assert records.percent == 100.0
    assert all(t["missing"] == 0 and t["extra"] == 0 for t in records.details["tables"])
    assert rows["Frontend Validation (calculations)"].current == "12/12 (100%)"
    assert rows["Foreign Key Integrity"].details["v2_enforced"].startswith("32/32")
    assert rows["Foreign Key Integrity"].current.startswith("6/32")


def test_partial_v2_fails_some_calculations_and_shows_the_seed_figures(conns: tuple[Any, Any]) -> None:
    """The seed's partial V2: calculations over the missing tables fail; FK 6/32; the seed's missing rows."""
    v1, v2 = conns
    seed(v1, v2, scale=SCALE, seed=spec.DEFAULT_SEED)
    failing = {r.name for r in run_calculations(CALCS, v1, v2) if not r.passed}
    assert {"audit_activity_per_month", "customer_metadata_coverage", "user_accounts_by_status"} <= failing
    assert len(failing) < 12

    result, rows = _report(v1, v2)
    fk = rows["Foreign Key Integrity"]
    assert fk.current == "6/32 (18.75%)"
    assert f"26 relationships with orphans ({sum(spec.orphans(SCALE).values()):,} orphaned" in fk.gap
    records = rows["Data Records"]
    assert records.details["seed_tables_not_in_v2"] == spec.missing_in_v2(SCALE)
    assert records.details["v1_rows_not_in_v2"] == sum(spec.missing_in_v2(SCALE).values())
    present = sum(t["present"] for t in records.details["tables"])
    assert present == sum(spec.v2_rows(SCALE).values())
    assert records.current.startswith(f"{present:,} in V2")
    assert rows["Frontend Validation (calculations)"].current.startswith(f"{12 - len(failing)}/12")
    assert result.score.percent < 100


def test_report_follows_the_data(conns: tuple[Any, Any]) -> None:
    """Deleting V1's orphaned audit logs makes one more relationship clean; filling V2 reaches the target."""
    v1, v2 = conns
    _, before = _report(v1, v2)
    v1.execute("DELETE FROM audit_logs al WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = al.user_id)")
    _, after = _report(v1, v2)
    assert before["Foreign Key Integrity"].current == "6/32 (18.75%)"
    assert after["Foreign Key Integrity"].current == "7/32 (21.88%)"

    data = generate(SCALE, spec.DEFAULT_SEED)
    seed_v1(v1, data)
    seed_v2(v2, build_v2(data, MAPPING, complete=True))
    _, filled = _report(v1, v2)
    assert filled["Data Records"].percent == 100.0
    assert filled["Data Records"].gap == (
        f"0 missing ({filled['Data Records'].details['kept_out_by_policy']:,} V1 rows not in V2, of which "
        f"{filled['Data Records'].details['kept_out_by_policy']:,} kept out by orphan policy)"
    )


# ---------------------------------------------------------------- HTTP endpoint parity


def _server(routes: dict[str, object]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in routes:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(routes[path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def apis() -> Iterator[tuple[str, str]]:
    """V1 serves three endpoints; V2 lacks /api/inventory and answers another total on /api/commissions."""
    v1 = _server(
        {
            "/api/sales": {"meta": {"generated_at": "t1"}, "items": [{"team": "a", "volume": "10.50"}]},
            "/api/commissions": {"agent": 7, "total": 1234.5, "paid": 1000},
            "/api/inventory": {"active": 12},
        }
    )
    v2 = _server(
        {
            "/api/sales": {"meta": {"generated_at": "t2"}, "items": [{"team": "a", "volume": "10.50"}]},
            "/api/commissions": {"agent": 7, "total": 1234.75, "paid": 1000},
        }
    )
    yield (f"http://127.0.0.1:{v1.server_port}", f"http://127.0.0.1:{v2.server_port}")
    for server in (v1, v2):
        server.shutdown()
        server.server_close()


INVENTORY = {
    "version": 1,
    "defaults": {"timeout_s": 5, "ignore_paths": ["/meta/generated_at"]},
    "endpoints": [
        {"name": "sales", "path": "/api/sales", "params": {"month": "2024-05"}},
        {"name": "commissions", "path": "/api/commissions"},
        {"name": "inventory", "path": "/api/inventory"},
    ],
}


def test_endpoint_parity_against_real_servers(apis: tuple[str, str]) -> None:
    """One passes (ignored timestamp), one fails at exactly /total, one is missing on V2."""
    v1_url, v2_url = apis
    results = {r.name: r for r in run_endpoints(Inventory.model_validate(INVENTORY), v1_url, v2_url)}
    assert results["sales"].outcome is Outcome.PASS
    assert results["commissions"].outcome is Outcome.FAIL
    assert results["commissions"].diff_paths == ["/total"]
    assert "1234" not in results["commissions"].detail
    assert results["inventory"].outcome is Outcome.MISSING_ON_V2
    assert results["inventory"].status_v2 == 404

    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    refused = run_endpoints(Inventory.model_validate(INVENTORY), v1_url, closed)
    assert {r.outcome for r in refused} == {Outcome.MISSING_ON_V2}


def test_cli_parity_persists_and_report_shows_endpoints(
    apis: tuple[str, str], conns: tuple[Any, Any], tmp_path: Path
) -> None:
    """`parity --endpoints` exits 1 and says which endpoint failed how; `report` then shows endpoints 1/3."""
    v1_url, v2_url = apis
    _, v2 = conns
    inventory = tmp_path / "endpoints.json"
    inventory.write_text(json.dumps(INVENTORY), encoding="utf-8")
    app = typer.Typer()
    app.command("parity")(parity)
    app.command("report")(report)
    runner = CliRunner()
    out = runner.invoke(
        app, ["parity", "--endpoints", str(inventory), "--v1-url", v1_url, "--v2-url", v2_url, "--json"]
    )
    assert out.exit_code == 1, out.output
    payload = json.loads(out.stdout)
    assert payload["calculations_passed"] == 12  # V2 is complete from the previous test
    assert {e["name"]: e["status"] for e in payload["endpoints"]} == {
        "sales": "pass",
        "commissions": "fail",
        "inventory": "missing_on_v2",
    }
    assert [e.name for e in store.load(v2, "endpoint")] == ["commissions", "inventory", "sales"]

    md = runner.invoke(app, ["report", "--format", "md"])
    assert md.exit_code == 0, md.output
    assert "| Endpoints | 1/3 (33.33%) | 3/3 (100%) | 1 fail, 1 missing_on_v2 |" in md.stdout
    html_file = tmp_path / "report.html"
    assert runner.invoke(app, ["report", "--format", "html", "--output", str(html_file)]).exit_code == 0
    assert "Migration Score" in html_file.read_text(encoding="utf-8")
