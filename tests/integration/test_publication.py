"""The publication never breaks V1's application: PostgreSQL refuses UPDATE and DELETE on a table that a
publication publishes without a replica identity, so ``db bootstrap`` refuses to create (or keep) the
schema-wide publication while such a table exists, naming it and the fix."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from replicator.db.bootstrap import PublicationError, ensure_publication
from tests.integration.conftest import eventually
from tests.support.own_table import OwnTable, own_table_fixture

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_a_table_without_replica_identity_stops_the_bootstrap_with_the_fix(
    v1: psycopg.Connection[Any],
) -> None:
    v1.execute("DROP PUBLICATION IF EXISTS replicator_keyless_pub")
    v1.execute("CREATE TABLE public.keyless_probe (a int, b text)")
    try:
        with pytest.raises(PublicationError) as refused:
            ensure_publication(v1, "replicator_keyless_pub")
        message = str(refused.value)
        assert "public.keyless_probe" in message and "REPLICA IDENTITY FULL" in message
        assert (
            v1.execute("SELECT 1 FROM pg_publication WHERE pubname = 'replicator_keyless_pub'").fetchone()
            is None
        )

        v1.execute("ALTER TABLE public.keyless_probe REPLICA IDENTITY FULL")
        ensure_publication(v1, "replicator_keyless_pub")
        v1.execute("INSERT INTO public.keyless_probe VALUES (1, 'x')")
        v1.execute("UPDATE public.keyless_probe SET b = 'y'")  # what the refusal protects
    finally:
        v1.execute("DROP PUBLICATION IF EXISTS replicator_keyless_pub")
        v1.execute("DROP TABLE public.keyless_probe")


watched = own_table_fixture(table="publication_watch", columns="id integer PRIMARY KEY, body text", index=28)
GAUGE = 'replicator_v1_tables_without_replica_identity{table="public.keyless_later"} 1.0'


def test_a_keyless_table_created_later_is_reported_until_fixed(watched: OwnTable) -> None:
    """A V1 deploy that creates a table without a primary key breaks its own UPDATEs at once; the workers
    report it (a gauge, an alert paging the SRE) until it has a replica identity."""
    watched.rows("v1", "CREATE TABLE public.keyless_later (a int)", "SELECT 1")
    try:
        eventually(lambda: GAUGE in watched.metrics(), timeout=60)
        watched.rows("v1", "ALTER TABLE public.keyless_later REPLICA IDENTITY FULL", "SELECT 1")
        eventually(lambda: "public.keyless_later" not in watched.metrics(), timeout=60)
    finally:
        watched.rows("v1", "DROP TABLE IF EXISTS public.keyless_later", "SELECT 1")
