"""The report: the score formula, and every row of the seed's table in Markdown, HTML and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from replicator.orphans.scan import OrphanScan, RelationshipOrphans
from replicator.parity.calculations import CalculationResult
from replicator.parity.compare import compare_rows
from replicator.parity.store import StoredResult
from replicator.report.figures import ForeignKeyV2, Inputs, TableRecords, build_report
from replicator.report.render import render
from replicator.report.score import Ratio, migration_score

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_score_is_the_mean_of_measured_components() -> None:
    """Unmeasured components are left out, not counted as 0 or 100."""
    score = migration_score(
        {
            "calculations": Ratio(6, 12),
            "fk_integrity": Ratio(6, 32),
            "records": Ratio(249_047, 295_915),
            "endpoints": None,
            "verification": Ratio(0, 0),
        }
    )
    expected = 100 * (0.5 + 6 / 32 + 249_047 / 295_915) / 3
    assert score.percent == pytest.approx(round(expected, 1))
    assert score.not_measured == ["endpoints", "verification"]
    assert migration_score({k: Ratio(3, 3) for k in ("calculations", "fk_integrity")}).percent == 100.0
    assert migration_score({}).percent == 0.0
    with pytest.raises(ValueError, match="unknown score components"):
        migration_score({"functions": Ratio(1, 2)})


def _calc(name: str, ok: bool) -> CalculationResult:
    rows = [("a", Decimal(1))]
    other = rows if ok else [("a", Decimal(2))]
    return CalculationResult(name, "Dash <b>", compare_rows(("k", "v"), rows, ("k", "v"), other))


def _inputs(*, endpoints: bool, verification: bool) -> Inputs:
    rels = [
        RelationshipOrphans(f"rel_{i}", "child", ("c",), ("parent",), "set_null", 2 if i % 2 else 0)
        for i in range(4)
    ]
    return Inputs(
        calculations=[_calc("calc_ok", True), _calc("calc_bad", False)],
        orphans=OrphanScan(rels, []),
        v2_foreign_keys=[
            ForeignKeyV2("rel_0", "child", ("c",), "parent", "child_c_fkey", True, True),
            ForeignKeyV2("rel_1", "child", ("c",), "parent", None, False, False),
        ],
        records=[
            TableRecords("audit_logs", ("audit_logs",), 100, 2, 10),
            TableRecords("users", ("users", "archived_users"), 50, 0, 45),
            TableRecords("notes", ("notes",), 30, 0, 30),
        ],
        verification=(
            [
                {
                    "table": "notes",
                    "status": "match",
                    "rows_expected": 30,
                    "rows_actual": 30,
                    "missing": 0,
                    "extra": 0,
                    "different": 0,
                    "checked_at": NOW,
                },
                {
                    "table": "users",
                    "status": "mismatch",
                    "rows_expected": 50,
                    "rows_actual": 45,
                    "missing": 5,
                    "extra": 0,
                    "different": 0,
                    "checked_at": NOW,
                },
            ]
            if verification
            else []
        ),
        endpoints=(
            [
                StoredResult(
                    "endpoint", "ep_ok", "pass", {"path": "/ok", "detail": "identical JSON"}, "r", NOW
                ),
                StoredResult("endpoint", "ep_gone", "missing_on_v2", {"path": "/gone"}, "r", NOW),
            ]
            if endpoints
            else []
        ),
        generated_at=NOW,
    )


def test_rows_carry_the_measured_figures() -> None:
    """Each row's figure is computed from the inputs: 1/2 calcs, 2/4 FK, records, endpoints, verification."""
    report = build_report(_inputs(endpoints=True, verification=True))
    rows = {r.metric: r for r in report.rows}
    assert rows["Frontend Validation (calculations)"].current == "1/2 (50%)"
    assert rows["Foreign Key Integrity"].current == "2/4 (50%)"
    assert "4 orphaned references" in rows["Foreign Key Integrity"].gap
    assert rows["Foreign Key Integrity"].details["v2_enforced"].startswith("1/2")
    records = rows["Data Records"]
    assert records.target == "178"  # 98 + 50 + 30 expected
    assert records.details["seed_tables_not_in_v2"] == {
        "audit_logs": 90,
        "customer_metadata": 0,
        "transaction_logs": 0,
        "archived_users": 5,
    }
    assert rows["Endpoints"].current == "1/2 (50%)"
    assert rows["Endpoints"].gap == "1 missing_on_v2"
    assert rows["Verification (per table)"].gap == "users"
    assert report.score.not_measured == []


def test_unmeasured_rows_say_so() -> None:
    """Without an endpoint run or a verification the rows say how to get them and the score skips them."""
    report = build_report(_inputs(endpoints=False, verification=False))
    rows = {r.metric: r for r in report.rows}
    assert rows["Endpoints"].current == "not measured"
    assert rows["Verification (per table)"].current == "not run"
    assert report.score.not_measured == ["endpoints", "verification"]


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_rendering_contains_every_row_and_its_details(fmt: str) -> None:
    """Markdown and HTML show every metric with its figure, and the detail tables behind them."""
    report = build_report(_inputs(endpoints=True, verification=True))
    text = render(report.as_dict(), fmt)
    for row in report.rows:
        assert row.metric in text
        assert row.current in text
    for detail in ("calc_bad", "rel_1", "archived_users", "ep_gone", "missing_on_v2", "mismatch"):
        assert detail in text
    if fmt == "html":
        assert "Dash &lt;b&gt;" in text and "Dash <b>" not in text
    else:
        assert "| Metric | Current | Target | Gap |" in text


def test_json_rendering_round_trips() -> None:
    """JSON output parses and holds every row and the score."""
    report = build_report(_inputs(endpoints=True, verification=False))
    data = json.loads(render(report.as_dict(), "json"))
    assert [r["metric"] for r in data["rows"]] == [r.metric for r in report.rows]
    assert data["score"]["percent"] == report.score.percent
    with pytest.raises(ValueError, match="unknown format"):
        render(report.as_dict(), "pdf")


def test_cutover_readiness_is_reported_not_scored() -> None:
    """The readiness row names the failing blocking checks and lists every check; it leaves the score
    alone. Unmeasured (Kafka down, or not asked), it says so."""
    from dataclasses import replace

    from replicator.cutover.checks import Check

    checks = [
        Check("workers", True, "2 worker(s)"),
        Check("verification", False, "never verified: users"),
        Check("v1_not_frozen", False, "V1 is frozen", blocking=False),
    ]
    inputs = _inputs(endpoints=True, verification=True)
    report = build_report(replace(inputs, readiness=checks))
    row = {r.metric: r for r in report.rows}["Cutover Readiness"]
    assert (row.current, row.gap) == ("not ready (1 of 2 checks fail)", "verification")
    assert report.score == build_report(inputs).score
    assert "never verified: users" in render(report.as_dict(), "md")
    unmeasured = {r.metric: r for r in build_report(replace(inputs, readiness="NoBrokersAvailable")).rows}
    assert unmeasured["Cutover Readiness"].gap == "not measured: NoBrokersAvailable"
