"""``replicator orphans fix`` on a seeded V1: each relationship's policy applied to its orphans, every
changed row backed up first, dead_letter relationships left for their parents.

Runs the command as the engineer does, in a subprocess; compares ``orphans scan`` before and after.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.mapping.model import load_mapping
from replicator.orphans.scan import scan
from replicator.settings import Settings

pytestmark = pytest.mark.integration

MAPPING = load_mapping(SCHEMAS_DIR / "mapping.yaml")
SCALE = 0.02


def orphans_cli(*args: str) -> tuple[int, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "replicator", "orphans", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    return result.returncode, json.loads(result.stdout) if result.stdout.startswith("{") else result.stderr


@pytest.fixture(scope="module")
def v1(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=SCALE)
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as conn:
        conn.execute("DELETE FROM replicator.orphan_backup")
        yield conn


def by_policy(conn: psycopg.Connection[Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in scan(conn, MAPPING).relationships:
        out.setdefault(r.policy, {})[r.relationship] = r.orphans
    return out


def backups(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("SELECT count(*) FROM replicator.orphan_backup").fetchone()[0])  # type: ignore[index]


def test_a_dry_run_counts_and_changes_nothing(v1: psycopg.Connection[Any]) -> None:
    before = by_policy(v1)
    code, report = orphans_cli("fix", "--dry-run", "--json")
    assert code == 0 and report["dry_run"]
    assert report["changed"] == sum(before["set_null"].values()) + sum(before["drop"].values()) > 0
    assert by_policy(v1) == before and backups(v1) == 0


def test_fix_applies_each_policy_and_backs_up_every_row_first(v1: psycopg.Connection[Any]) -> None:
    """set_null and drop relationships end with no orphan; dead_letter ones keep theirs; every changed
    row is in the backup as it was; a second fix changes nothing."""
    before = by_policy(v1)
    code, report = orphans_cli("fix", "--json")
    assert code == 0, report
    after = by_policy(v1)
    assert all(n == 0 for n in after["set_null"].values()) and all(n == 0 for n in after["drop"].values())
    # dead_letter orphans are not fixed for their own relationship; one can go with a row another
    # relationship dropped
    assert all(f["action"] == "skip" for f in report["fixes"] if f["relationship"] in before["dead_letter"])
    assert all(after["dead_letter"][r] <= n for r, n in before["dead_letter"].items())
    assert report["left_for_parents"] == sum(after["dead_letter"].values()) > 0
    assert backups(v1) == report["changed"] >= sum(before["set_null"].values()) + sum(before["drop"].values())

    cleared = next(f for f in report["fixes"] if f["action"] == "set_null")
    column = cleared["columns"][0]
    backed_up = v1.execute(
        "SELECT row_before FROM replicator.orphan_backup WHERE relationship = %s LIMIT 1",
        [cleared["relationship"]],
    ).fetchone()[0]  # type: ignore[index]
    assert backed_up[column] is not None
    now = v1.execute(
        f"SELECT {column} FROM public.{cleared['table']} WHERE id = %s",  # noqa: S608 - names from the mapping
        [backed_up["id"]],
    ).fetchone()
    assert now == (None,)

    code, again = orphans_cli("fix", "--json")
    assert code == 0 and again["changed"] == 0 and backups(v1) == report["changed"]


def test_dead_letter_orphans_are_deleted_only_when_asked(v1: psycopg.Connection[Any]) -> None:
    relationship = next(r for r, n in by_policy(v1)["dead_letter"].items() if n)
    code, report = orphans_cli(
        "fix", "--relationship", relationship, "--delete-dead-letter-orphans", "--json"
    )
    assert code == 0 and [f["action"] for f in report["fixes"]] == ["delete"]
    assert by_policy(v1)["dead_letter"][relationship] == 0


def test_an_unknown_relationship_is_a_usage_error(v1: psycopg.Connection[Any]) -> None:
    code, message = orphans_cli("fix", "--relationship", "no_such_relationship")
    assert code == 2 and "no_such_relationship" in message


def test_set_null_on_a_column_v1_keeps_not_null_is_refused_whole_and_says_what_to_do(
    v1: psycopg.Connection[Any], tmp_path: Path
) -> None:
    """audit_logs.user_id is NOT NULL in V1: a mapping that asks set_null there gets an error naming the
    column and the way out (exit 1); the orphan, and the backup, are as before (one transaction)."""
    text = (SCHEMAS_DIR / "mapping.yaml").read_text()
    rule = re.compile(r"(- name: audit_logs_user\n(?:    .*\n)*?    on_orphan: )drop")
    assert rule.search(text), "the demo mapping's audit_logs_user relationship changed shape"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(rule.sub(r"\1set_null", text))
    orphan = v1.execute(
        "INSERT INTO audit_logs (user_id, entity_type, entity_id, action, changes, ip_address, created_at) "
        "VALUES (2000000000, 'listing', 1, 2, '{}', '10.0.0.1', localtimestamp) RETURNING id"
    ).fetchone()[0]  # type: ignore[index]
    kept = backups(v1)
    try:
        code, report = orphans_cli(
            "fix", "--mapping", str(mapping), "--relationship", "audit_logs_user", "--json"
        )
        assert code == 1, report
        (fix,) = report["fixes"]
        assert fix["action"] == "set_null" and fix["error"].startswith("NotNullViolation")
        assert "column user_id" in fix["error"] and "on_orphan: drop or dead_letter" in fix["error"]
        still = v1.execute("SELECT user_id FROM audit_logs WHERE id = %s", [orphan]).fetchone()
        assert still == (2000000000,) and backups(v1) == kept
    finally:
        v1.execute("DELETE FROM audit_logs WHERE id = %s", [orphan])
