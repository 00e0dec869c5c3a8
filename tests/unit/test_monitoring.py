"""The SREs' Grafana dashboard and Prometheus alerts: they parse, name only metrics the product exports,
and the alerts fire when (and only when) they should — checked by Prometheus's own promtool
(``promtool test rules deploy/prometheus/alerts.test.yml``: synthetic series, expected alerts)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from replicator.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana"
METRIC = re.compile(r"\breplicator_[a-z0-9_]+\b")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool not found: scripts/bootstrap.sh installs Debian's prometheus package"
    return subprocess.run([tool, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def exported() -> set[str]:
    """Every sample name the product's registry can export."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {
        family.name + suffix
        for family in Metrics(CollectorRegistry()).registry.collect()
        for suffix in suffixes[family.type]
    }


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "replicator.json").read_text())
    return data


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_alert_rules_are_valid_and_fire_as_their_tests_expect() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_test_and_says_what_to_do() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    tested = {t["alertname"] for case in tests for t in case["alert_rule_test"]}
    for rule in alert_rules():
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test"
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_the_dashboard_queries_parse(tmp_path: Path) -> None:
    """Every panel query is valid PromQL (promtool checks it as a recording rule)."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(dashboard_exprs())],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    checked = promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboard_and_alerts_name_only_exported_metrics() -> None:
    names = exported()
    for expr in [*dashboard_exprs(), *(r["expr"] for r in alert_rules())]:
        unknown = set(METRIC.findall(expr)) - names
        assert not unknown, f"{expr}: {unknown} not exported by replicator.metrics"
    used = {m for e in dashboard_exprs() for m in METRIC.findall(e)}
    declared = {f.name for f in Metrics(CollectorRegistry()).registry.collect()}
    assert {re.sub(r"_(total|bucket|sum|count)$", "", m) for m in used} >= declared - {
        "replicator_fence_applied_lsn"
    }


def test_dashboard_panels_use_the_provisioned_datasource() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(
        p["datasource"]["uid"] == uid and all(t["datasource"]["uid"] == uid for t in p["targets"])
        for p in panels
    )


@pytest.mark.parametrize(
    ("service", "mounted"),
    [
        ("prometheus", {"./deploy/prometheus/prometheus.yml", "./deploy/prometheus/alerts.yml"}),
        ("grafana", {"./deploy/grafana/provisioning", "./deploy/grafana/dashboards"}),
    ],
)
def test_compose_mounts_the_monitoring_files(service: str, mounted: set[str]) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    volumes = {v.split(":")[0] for v in compose["services"][service]["volumes"]}
    assert mounted <= volumes
    assert all((REPO / path).exists() for path in mounted)
