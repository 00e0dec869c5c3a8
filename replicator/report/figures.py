"""Each row of the seed's "Current State vs Target State" table, from queries on V1 and V2.

``collect`` runs the queries (calculation pairs, the V1 orphan scan, V2's FK constraints, row counts
through the mapping, ``replicator.verification``, the last endpoint parity run); ``build_report`` turns
what they returned into the table rows and their details. ``build_report`` is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from replicator.cutover.checks import Check
from replicator.mapping.model import Mapping
from replicator.orphans.scan import OrphanScan, scan
from replicator.parity import store
from replicator.parity.calculations import CalculationResult, CalculationsFile, run_calculations
from replicator.report.queries import TABLE_EXISTS, V2_FOREIGN_KEYS, VERIFICATION, source_counts, target_count
from replicator.report.score import Ratio, Score, migration_score

SEED_TABLES = ("audit_logs", "customer_metadata", "transaction_logs", "archived_users")
"""The four V1 tables the seed lists as missing records (archived_users merges into V2 users)."""


@dataclass(frozen=True, slots=True)
class TableRecords:
    """One V2 table: V1 rows through the mapping vs rows present in V2."""

    table: str
    sources: tuple[str, ...]  # V1 tables feeding it
    v1_rows: int  # V1 rows passing the mappings' filters
    kept_out: int  # of which an orphan policy (dead_letter/drop) keeps out of V2
    present: int  # rows in V2
    figures_from: str = "counts"  # or "verification"
    verified_expected: int | None = None
    verified_missing: int | None = None

    @property
    def expected(self) -> int:
        if self.verified_expected is not None:
            return self.verified_expected
        return self.v1_rows - self.kept_out

    @property
    def missing(self) -> int:
        """Rows still to migrate."""
        if self.verified_missing is not None:
            return self.verified_missing
        return max(0, self.expected - self.present)

    @property
    def not_in_v2(self) -> int:
        """V1 rows (through the mapping) V2 lacks, those an orphan policy will keep out included."""
        return max(0, self.v1_rows - self.present)

    @property
    def extra(self) -> int:
        return max(0, self.present - self.expected)

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "sources": list(self.sources),
            "expected": self.expected,
            "missing": self.missing,
            "not_in_v2": self.not_in_v2,
            "extra": self.extra,
        }


@dataclass(frozen=True, slots=True)
class ForeignKeyV2:
    relationship: str
    table: str
    columns: tuple[str, ...]
    references: str
    constraint: str | None  # None: no matching FK constraint in V2
    validated: bool
    enabled: bool

    @property
    def enforced(self) -> bool:
        return self.constraint is not None and self.validated and self.enabled


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the queries returned; ``build_report`` needs nothing else."""

    calculations: list[CalculationResult]
    orphans: OrphanScan
    v2_foreign_keys: list[ForeignKeyV2]
    records: list[TableRecords]
    verification: list[dict[str, Any]]
    endpoints: list[store.StoredResult]
    readiness: list[Check] | str | None = None
    """``cutover check``'s verdicts; the reason they could not be read (text); None: not asked for."""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Row:
    metric: str
    current: str
    target: str
    gap: str
    percent: float | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: datetime
    rows: list[Row]
    score: Score

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "rows": [asdict(r) for r in self.rows],
            "score": {
                "percent": self.score.percent,
                "components": self.score.components,
                "not_measured": self.score.not_measured,
            },
        }


# ---------------------------------------------------------------- queries


def v2_foreign_keys(conn: psycopg.Connection[Any], mapping: Mapping) -> list[ForeignKeyV2]:
    """Each mapping relationship and the V2 FK constraint enforcing it (validated, triggers enabled)."""
    found = conn.execute(V2_FOREIGN_KEYS, [mapping.target_schema]).fetchall()
    out = []
    for rel in mapping.relationships:
        match = next(
            (
                row
                for row in found
                if row[0] == rel.table
                and tuple(row[1]) == rel.columns
                and row[2] == rel.references
                and tuple(row[3]) == rel.ref_columns
            ),
            None,
        )
        out.append(
            ForeignKeyV2(
                relationship=rel.name,
                table=rel.table,
                columns=rel.columns,
                references=rel.references,
                constraint=None if match is None else match[4],
                validated=bool(match and match[5]),
                enabled=bool(match and match[6]),
            )
        )
    return out


def verification_rows(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    if not _exists(conn, "replicator.verification"):
        return []
    keys = ("table", "status", "rows_expected", "rows_actual", "missing", "extra", "different", "checked_at")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(VERIFICATION).fetchall()]


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute(TABLE_EXISTS, [name]).fetchone()
    return bool(row and row[0])


def record_counts(
    v1: psycopg.Connection[Any],
    v2: psycopg.Connection[Any],
    mapping: Mapping,
    verification: Sequence[dict[str, Any]] = (),
) -> list[TableRecords]:
    """Per V2 table: V1 rows through the mapping, those kept out by policy, and rows present in V2;
    expected/missing from ``replicator.verification`` where it holds a row for the table."""
    sources: dict[str, list[str]] = {}
    v1_rows: dict[str, int] = {}
    kept_out: dict[str, int] = {}
    for query in source_counts(mapping):
        row = v1.execute(query.statement, query.params).fetchone()
        assert row is not None
        sources.setdefault(query.target, []).append(query.source)
        v1_rows[query.target] = v1_rows.get(query.target, 0) + int(row[0])
        kept_out[query.target] = kept_out.get(query.target, 0) + int(row[1])
    verified = {v["table"]: v for v in verification}
    out = []
    for table in mapping.target_tables():
        row = v2.execute(target_count(mapping, table)).fetchone()
        assert row is not None
        check = verified.get(table)
        out.append(
            TableRecords(
                table=table,
                sources=tuple(sources[table]),
                v1_rows=v1_rows[table],
                kept_out=kept_out[table],
                present=int(check["rows_actual"]) if check else int(row[0]),
                figures_from=f"verification ({check['status']})" if check else "counts",
                verified_expected=int(check["rows_expected"]) if check else None,
                verified_missing=int(check["missing"]) if check else None,
            )
        )
    return out


def collect(
    v1: psycopg.Connection[Any],
    v2: psycopg.Connection[Any],
    mapping: Mapping,
    calculations: CalculationsFile,
) -> Inputs:
    verification = verification_rows(v2)
    return Inputs(
        calculations=run_calculations(calculations, v1, v2),
        orphans=scan(v1, mapping),
        v2_foreign_keys=v2_foreign_keys(v2, mapping),
        records=record_counts(v1, v2, mapping, verification),
        verification=verification,
        endpoints=store.load(v2, "endpoint"),
    )


# ---------------------------------------------------------------- the table (pure)


def _pct(ratio: Ratio) -> str:
    return "n/a" if ratio.percent is None else f"{ratio.percent:g}%"


def _frac(ratio: Ratio) -> str:
    return f"{ratio.done:,}/{ratio.total:,} ({_pct(ratio)})"


def build_report(inputs: Inputs) -> Report:
    calcs = Ratio(sum(c.passed for c in inputs.calculations), len(inputs.calculations))
    failing = [c for c in inputs.calculations if not c.passed]
    rows = [
        Row(
            "Frontend Validation (calculations)",
            _frac(calcs),
            f"{calcs.total}/{calcs.total} (100%)",
            f"{len(failing)} failing" if failing else "none",
            calcs.percent,
            {"calculations": [c.as_dict() for c in inputs.calculations]},
        )
    ]

    rels = inputs.orphans.relationships
    fk = Ratio(inputs.orphans.clean, len(rels))
    enforced = Ratio(sum(f.enforced for f in inputs.v2_foreign_keys), len(inputs.v2_foreign_keys))
    rows.append(
        Row(
            "Foreign Key Integrity",
            _frac(fk),
            f"{fk.total}/{fk.total} (100%)",
            (
                f"{inputs.orphans.with_orphans} relationships with orphans "
                f"({inputs.orphans.total:,} orphaned references in V1)"
                if inputs.orphans.with_orphans
                else "none"
            ),
            fk.percent,
            {
                "v1_orphans": [r.as_dict() for r in rels],
                "v1_unscannable": [
                    {"relationship": u.relationship, "reason": u.reason} for u in inputs.orphans.unscannable
                ],
                "v2_enforced": (
                    f"{enforced.done}/{enforced.total} FK constraints present, validated and enabled in V2"
                ),
                "v2_not_enforced": [
                    {
                        "relationship": f.relationship,
                        "constraint": f.constraint,
                        "validated": f.validated,
                        "enabled": f.enabled,
                    }
                    for f in inputs.v2_foreign_keys
                    if not f.enforced
                ],
            },
        )
    )

    records = inputs.records
    expected = sum(t.expected for t in records)
    records_ratio = Ratio(sum(min(t.present, t.expected) for t in records), expected)
    missing = sum(t.missing for t in records)
    not_in_v2 = sum(t.not_in_v2 for t in records)
    kept_out = sum(t.kept_out for t in records)
    seed_tables = {name: next((t.not_in_v2 for t in records if name in t.sources), 0) for name in SEED_TABLES}
    rows.append(
        Row(
            "Data Records",
            f"{sum(t.present for t in records):,} in V2 ({_pct(records_ratio)})",
            f"{expected:,}",
            (
                f"{missing:,} missing ({not_in_v2:,} V1 rows not in V2, of which {kept_out:,} kept out "
                f"by orphan policy)"
                if missing or not_in_v2
                else "none"
            ),
            records_ratio.percent,
            {
                "tables": [t.as_dict() for t in records],
                "v1_rows_not_in_v2": not_in_v2,
                "kept_out_by_policy": kept_out,
                "seed_tables_not_in_v2": seed_tables,
                "extra_in_v2": sum(t.extra for t in records),
            },
        )
    )

    endpoints: Ratio | None = None
    if inputs.endpoints:
        endpoints = Ratio(sum(e.status == "pass" for e in inputs.endpoints), len(inputs.endpoints))
        by_status: dict[str, int] = {}
        for e in inputs.endpoints:
            by_status[e.status] = by_status.get(e.status, 0) + 1
        rows.append(
            Row(
                "Endpoints",
                _frac(endpoints),
                f"{endpoints.total}/{endpoints.total} (100%)",
                ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()) if s != "pass") or "none",
                endpoints.percent,
                {
                    "last_run": max(e.checked_at for e in inputs.endpoints).isoformat(),
                    "endpoints": [{"name": e.name, "status": e.status, **e.detail} for e in inputs.endpoints],
                },
            )
        )
    else:
        rows.append(
            Row("Endpoints", "not measured", "all pass", "run `replicator parity --endpoints …`", None, {})
        )

    verification: Ratio | None = None
    if inputs.verification:
        verification = Ratio(
            sum(v["status"] == "match" for v in inputs.verification), len(inputs.verification)
        )
        rows.append(
            Row(
                "Verification (per table)",
                _frac(verification),
                f"{verification.total}/{verification.total} (100%)",
                ", ".join(v["table"] for v in inputs.verification if v["status"] != "match") or "none",
                verification.percent,
                {
                    "tables": [
                        {**v, "checked_at": v["checked_at"].isoformat() if v.get("checked_at") else None}
                        for v in inputs.verification
                    ]
                },
            )
        )
    else:
        rows.append(
            Row("Verification (per table)", "not run", "all match", "run `replicator verify`", None, {})
        )

    rows.append(_readiness_row(inputs.readiness))

    score = migration_score(
        {
            "calculations": calcs,
            "fk_integrity": fk,
            "records": records_ratio,
            "endpoints": endpoints,
            "verification": verification,
        }
    )
    rows.append(
        Row(
            "Migration Score",
            f"{score.percent:g}%",
            "100%",
            f"{round(100 - score.percent, 1):g}% remaining" if score.percent < 100 else "none",
            score.percent,
            {
                "formula": "100 × mean of the measured components (replicator/report/score.py)",
                "components": score.components,
                "not_measured": score.not_measured,
            },
        )
    )
    return Report(generated_at=inputs.generated_at, rows=rows, score=score)


def _readiness_row(readiness: list[Check] | str | None) -> Row:
    """Cutover readiness, as `cutover check` sees it (not part of the score: it gates, it does not grade)."""
    if readiness is None or isinstance(readiness, str):
        gap = f"not measured: {readiness}" if readiness else "run `replicator cutover check`"
        return Row("Cutover Readiness", "not measured", "ready", gap, None, {})
    blocking = [c for c in readiness if c.blocking and not c.passed]
    return Row(
        "Cutover Readiness",
        "ready"
        if not blocking
        else f"not ready ({len(blocking)} of {sum(c.blocking for c in readiness)} checks fail)",
        "ready",
        ", ".join(c.name for c in blocking) or "none",
        None,
        {"checks": [c.as_dict() for c in readiness]},
    )
