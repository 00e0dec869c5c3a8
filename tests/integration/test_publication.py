"""The publication never breaks V1's application: PostgreSQL refuses UPDATE and DELETE on a table that a
publication publishes without a replica identity, so ``db bootstrap`` refuses to create (or keep) the
schema-wide publication while such a table exists, naming it and the fix."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from replicator.db.bootstrap import PublicationError, ensure_publication

pytestmark = [pytest.mark.integration]


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
