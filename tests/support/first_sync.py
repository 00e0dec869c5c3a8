"""Setting up and judging a first synchronisation on the real stack: V1 seeded, V2 empty, no connector."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from replicator.connect.reset import fresh_connector
from replicator.demo.load import seed
from replicator.mapping.model import Mapping
from replicator.settings import Settings
from replicator.sink.state import STATE_TABLES
from replicator.worker.app import source_topics
from tests.support.expected import actual_v2, diff, v1_through_mapping


def seed_with_empty_v2(settings: Settings, mapping: Mapping, *, scale: float) -> None:
    """V1 seeded at ``scale``; V2's mapped tables and pipeline state empty; the connector, its offsets,
    its slot and the mapped tables' topics gone (the smoke tests' topic and worker are left alone)."""
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        seed(v1, v2, scale=scale)
    with psycopg.connect(settings.v2_admin.conninfo(), autocommit=True) as v2:
        tables = [sql.Identifier("public", t) for t in sorted({t.target for t in mapping.tables})]
        state = [sql.Identifier("replicator", t) for t in STATE_TABLES]
        v2.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join([*tables, *state])))
    fresh_connector(settings, topics=mapped_topics(mapping))


def mapped_topics(mapping: Mapping) -> str:
    """The topics of the mapped V1 tables, as a regex: not the smoke tests' topic."""
    return "|".join(re.escape(t) for t in source_topics(mapping)[:-1])  # not the heartbeat's


def v2_problems(settings: Settings, mapping: Mapping) -> dict[str, Any]:
    """Per V2 table, up to five missing, extra and different rows against V1 through the mapping."""
    with (
        psycopg.connect(settings.v1_admin.conninfo()) as v1,
        psycopg.connect(settings.v2_admin.conninfo()) as v2,
    ):
        expected = v1_through_mapping(v1, mapping)
        actual = actual_v2(v2, mapping, sorted(expected))
    return {
        t: (d.missing[:5], d.extra[:5], list(d.different.items())[:5])
        for t, d in diff(expected, actual).items()
    }
