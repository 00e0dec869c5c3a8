"""Key arrays for ``unnest`` (``sink.keys.matching``): binary arrays, but a key column holding an
infinite timestamp or date goes as PostgreSQL's array text (psycopg dumps a list by its first element)."""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from replicator.mapping.catalog import Catalog, CatalogColumn, CatalogTable
from replicator.pipeline.infinity import infinite_timestamp
from replicator.sink.keys import matching

CATALOG = Catalog.of(
    "public",
    [
        CatalogTable(
            "events",
            (
                CatalogColumn("at", "timestamp without time zone", "timestamp", nullable=False),
                CatalogColumn("id", "bigint", "int8", nullable=False),
            ),
            ("at", "id"),
        )
    ],
)


def test_finite_keys_travel_as_binary_arrays() -> None:
    where, params = matching(CATALOG, "events", ["at", "id"], [(datetime(2024, 1, 1), 1)])
    assert params == [[datetime(2024, 1, 1)], [1]]
    text = where.as_string(None)
    assert "%b::timestamp without time zone[]" in text and "%b::bigint[]" in text


def test_a_column_with_an_infinite_key_travels_as_array_text() -> None:
    keys = [(infinite_timestamp(True, aware=False), 1), (datetime(2024, 1, 1, 3, 4, 5), 2)]
    where, params = matching(CATALOG, "events", ["at", "id"], keys)
    assert params == ["{infinity,2024-01-01T03:04:05}", [1, 2]]
    text = where.as_string(None)
    assert "%t::timestamp without time zone[]" in text and "%b::bigint[]" in text
    assert isinstance(where, sql.Composed)
