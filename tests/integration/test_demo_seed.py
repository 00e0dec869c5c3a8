"""The demo scenario on real PostgreSQL: exact figures by SQL, deterministic data, a valid mapping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from psycopg import sql

from replicator.demo import spec
from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.mapping.catalog import read_catalog
from replicator.mapping.check import Level, check_mapping
from replicator.mapping.model import Mapping, load_mapping
from replicator.orphans.scan import scan
from replicator.settings import Settings

pytestmark = pytest.mark.integration

SCALE = 0.05
MAPPING_PATH = SCHEMAS_DIR / "mapping.yaml"
MAPPING = load_mapping(MAPPING_PATH)


def _counts(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, int]:
    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(t))).fetchone()[0]  # type: ignore[index]
        for t in tables
    }


def _checksum(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, str]:
    """An order-independent digest of every row of each table."""
    return {
        t: conn.execute(
            sql.SQL(
                "SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM public.{} r"
            ).format(sql.Identifier(t))
        ).fetchone()[0]  # type: ignore[index]
        for t in tables
    }


def _v2_tables(mapping: Mapping) -> list[str]:
    return sorted({t.target for t in mapping.tables})


@pytest.fixture(scope="module")
def seeded(settings: Settings) -> dict[str, Any]:
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        report = seed(v1, v2, scale=SCALE, seed=spec.DEFAULT_SEED)
    return {"report": report}


def test_v1_rows_per_table_match_the_spec(seeded: dict[str, Any], v1: psycopg.Connection[Any]) -> None:
    """Every V1 table holds exactly the scaled row count of the scenario, measured by SQL."""
    expected = spec.v1_rows(SCALE)
    assert _counts(v1, list(expected)) == expected


def test_v2_holds_everything_but_the_missing_records(
    seeded: dict[str, Any], v2: psycopg.Connection[Any]
) -> None:
    """V2 holds the scaled V2 counts: V1 through the mapping minus the seed's missing records."""
    expected = spec.v2_rows(SCALE)
    assert _counts(v2, list(expected)) == expected
    missing = spec.missing_in_v2(SCALE)
    assert set(missing) == {"audit_logs", "customer_metadata", "transaction_logs", "archived_users"}
    assert all(n > 0 for n in missing.values())


def test_orphans_per_relationship_match_the_spec(seeded: dict[str, Any], v1: psycopg.Connection[Any]) -> None:
    """The SQL orphan scan of V1 finds exactly the scenario's orphans per relationship (26 of 32)."""
    result = scan(v1, MAPPING)
    assert not result.unscannable
    assert {r.relationship: r.orphans for r in result.relationships} == spec.orphans(SCALE)
    assert (len(result.relationships), result.with_orphans) == (32, 26)


def test_v2_foreign_keys_are_enabled_and_validated(
    seeded: dict[str, Any], v2: psycopg.Connection[Any]
) -> None:
    """V2 has all 32 FK constraints, enabled and validated."""
    rows = v2.execute(
        "SELECT count(*) FILTER (WHERE convalidated), count(*) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE contype = 'f' AND nspname = 'public'"
    ).fetchone()
    assert rows == (32, 32)
    disabled = v2.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgisinternal AND tgenabled = 'D' "
        "AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)"
    ).fetchone()
    assert disabled == (0,)


def test_same_seed_gives_identical_data(settings: Settings, seeded: dict[str, Any]) -> None:
    """Seeding twice with the same seed yields byte-identical V1 and V2 tables (checksums)."""
    v1_tables = sorted(spec.v1_rows(SCALE))
    v2_tables = _v2_tables(MAPPING)
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        first = (_checksum(v1, v1_tables), _checksum(v2, v2_tables))
        seed(v1, v2, scale=SCALE, seed=spec.DEFAULT_SEED)
        second = (_checksum(v1, v1_tables), _checksum(v2, v2_tables))
        seed(v1, v2, scale=SCALE, seed=spec.DEFAULT_SEED + 1)
        other = _checksum(v1, v1_tables)
        seed(v1, v2, scale=SCALE, seed=spec.DEFAULT_SEED)
    assert first == second
    assert other != first[0], "a different seed must give different data"


def test_mapping_checks_clean_against_the_live_catalogs(
    seeded: dict[str, Any], v1: psycopg.Connection[Any], v2: psycopg.Connection[Any]
) -> None:
    """The shipped mapping fits the live V1 and V2 catalogs with no error."""
    findings = check_mapping(MAPPING, read_catalog(v1, "public"), read_catalog(v2, "public"))
    assert [str(f) for f in findings if f.level is Level.ERROR] == []


def test_mapping_check_cli_reports_a_broken_mapping(seeded: dict[str, Any], tmp_path: Any) -> None:
    """`mapping check` exits 1 and names the table mapping and column when V2 lacks a mapped column."""
    broken = tmp_path / "mapping.yaml"
    text = MAPPING_PATH.read_text()
    broken.write_text(text.replace("target: networks", "target: networks_renamed", 1))
    result = subprocess.run(
        [sys.executable, "-m", "replicator", "mapping", "check", "--mapping", str(broken), "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "networks_renamed" in output


def test_orphans_scan_cli_json(seeded: dict[str, Any]) -> None:
    """`orphans scan --json` reports the total and per-relationship counts and exits 1 when orphans exist."""
    result = subprocess.run(
        [sys.executable, "-m", "replicator", "orphans", "scan", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["total_orphans"] == sum(spec.orphans(SCALE).values())
    assert report["relationships_with_orphans"] == 26
