"""``replicator demo run --dry-run`` on a running stack: the plan as things stand, and nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from replicator.connect.client import ConnectClient
from replicator.stack.manager import Stack

pytestmark = pytest.mark.integration


def test_the_demo_dry_run_says_what_it_would_do_and_changes_nothing(stack: Stack) -> None:
    settings = stack.settings
    connect = ConnectClient(settings.connect_url)
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    with psycopg.connect(settings.v1_admin.conninfo(), autocommit=True) as v1:
        before = (v1.execute(tables).fetchone(), connect.status(settings.connector_name))
        done = subprocess.run(
            [sys.executable, "-m", "replicator", "demo", "run", "--dry-run", "--reseed", "--scale", "0.1"],
            env=os.environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        out = " ".join(done.stderr.split())
        for component in ("postgres-v1", "postgres-v2", "kafka", "connect"):
            assert f"{component}: running" in out
        assert "seed V1 and the partial V2 at scale 0.1" in out
        assert "would load V2 from one snapshot of V1" in out  # --reseed: loaded again
        assert "would start 2 workers (consumer group replicator)" in out
        after = (v1.execute(tables).fetchone(), connect.status(settings.connector_name))
    assert after == before
