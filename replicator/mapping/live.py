"""The mapping against the live databases, as the commands that write V2 see them: V1's catalog read by
the replication role and V2's by the writer, then ``require_valid``. One place, so a worker, its
``--dry-run`` and the initial load refuse exactly the same mappings."""

from __future__ import annotations

from typing import NamedTuple

import psycopg

from replicator.mapping.catalog import Catalog, read_catalog
from replicator.mapping.check import Finding, require_valid
from replicator.mapping.model import Mapping
from replicator.settings import Settings

__all__ = ["Checked", "checked_catalogs"]


class Checked(NamedTuple):
    v1: Catalog
    v2: Catalog
    warnings: list[Finding]


def checked_catalogs(settings: Settings, mapping: Mapping, *, source: str) -> Checked:
    """Both catalogs, once the mapping (read from ``source``) is known to fit them; else ``ConfigError``."""
    with (
        psycopg.connect(settings.v1_replication.conninfo()) as v1,
        psycopg.connect(settings.v2_writer.conninfo()) as v2,
    ):
        v1_catalog = read_catalog(v1, mapping.source_schema)
        v2_catalog = read_catalog(v2, mapping.target_schema)
    return Checked(v1_catalog, v2_catalog, require_valid(mapping, v1_catalog, v2_catalog, source=source))
