"""At scale 1.0 the demo reproduces the seed's figures exactly (slow: ~296K rows)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from replicator.demo.load import SCHEMAS_DIR, seed
from replicator.mapping.model import load_mapping
from replicator.orphans.scan import scan
from replicator.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_scale_one_reproduces_the_seed(settings: Settings) -> None:
    """32 relationships, 26 with orphans, 1,022 orphaned references; ~296K V1 rows; 47,121 missing in V2."""
    mapping = load_mapping(SCHEMAS_DIR / "mapping.yaml")
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        report = seed(v1, v2, scale=1.0)
        v1_total = sum(report.v1_rows.values())
        result = scan(v1, mapping)

        def count(conn: psycopg.Connection[Any], table: str) -> int:
            row = conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()  # noqa: S608 - fixed names
            assert row is not None
            return int(row[0])

        audit = (count(v1, "audit_logs"), count(v2, "audit_logs"))
        metadata = count(v1, "customer_metadata") - count(v2, "customer_metadata")
        logs = count(v1, "transaction_logs") - count(v2, "transaction_logs")
        archived_in_v2 = v2.execute("SELECT count(*) FROM public.users WHERE status = 'archived'").fetchone()
    assert (len(result.relationships), result.with_orphans, result.total) == (32, 26, 1022)
    assert audit == (48_600, 3_000)
    assert (metadata, logs, archived_in_v2) == (1_200, 25, (0,))
    assert report.missing == {
        "audit_logs": 45_600,
        "customer_metadata": 1_200,
        "transaction_logs": 25,
        "archived_users": 296,
    }
    assert 290_000 <= v1_total <= 300_000
