"""The benchmark systems' integration tests share this: V1 seeded at a tiny scale, a ``Bench`` on the test
stack, and the mirror database dropped afterwards."""

from __future__ import annotations

import psycopg
from psycopg import sql

from bench.context import Bench
from replicator.demo.load import seed
from replicator.mapping.model import load_mapping
from replicator.stack.manager import Stack


def seeded_bench(stack: Stack, scale: float) -> Bench:
    """V1 (and V2's brokerage) seeded at ``scale``; a ``Bench`` over the test stack."""
    settings = stack.settings
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=scale)
    return Bench(stack=stack, mapping=load_mapping(settings.mapping_path), scale=scale)


def drop_database(bench: Bench, name: str) -> None:
    with bench.v2("postgres") as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
