"""Decoding by a V1 catalog that changes under the workers (``replicator.worker.decoders``), and a change
that does not fit it dead-lettered instead of stopping the worker."""

from __future__ import annotations

import logging

import psycopg
import pytest

from replicator.errors import TransientError
from replicator.mapping.catalog import Catalog, CatalogColumn, CatalogTable
from replicator.mapping.engine import Op
from replicator.mapping.model import Mapping, parse_mapping
from replicator.pipeline.envelope import Op as EnvelopeOp
from replicator.pipeline.envelope import Position, RowChange
from replicator.pipeline.values import SchemaMismatchError, ValueDecodeError
from replicator.worker.decoders import REFRESH_EVERY_S, SourceDecoders

MAPPING: Mapping = parse_mapping(
    {
        "version": 1,
        "tables": [
            {
                "name": "items",
                "source": "items",
                "target": "items",
                "key": ["id"],
                "columns": {"id": "id", "n": "n"},
            }
        ],
    },
    "m.yaml",
)


def catalog(*columns: tuple[str, str]) -> Catalog:
    cols = tuple(CatalogColumn(name, base, base, nullable=name != "id") for name, base in columns)
    return Catalog.of("public", [CatalogTable("items", cols, ("id",))])


STARTUP = catalog(("id", "int4"), ("n", "int4"))


def change(after: dict[str, object]) -> RowChange:
    return RowChange(
        "public",
        "items",
        EnvelopeOp.CREATE,
        {"id": 1},
        None,
        after,
        Position(2, 1),
        None,
        0,
        False,
        frozenset(),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_column_added_in_v1_is_read_again_and_not_replicated(caplog: pytest.LogCaptureFixture) -> None:
    """The change decodes with V1's catalog read again; the worker names the new column, never its value."""
    reads: list[int] = []

    def read() -> Catalog:
        reads.append(1)
        return catalog(("id", "int4"), ("n", "int4"), ("note", "text"))

    decoders = SourceDecoders(MAPPING, STARTUP, read)
    with caplog.at_level(logging.WARNING, logger="replicator.worker"):
        row = decoders.source_row(change({"id": 1, "n": 2, "note": "secret"}), Op.CREATE)
        again = decoders.source_row(change({"id": 2, "n": 3, "note": "secret"}), Op.CREATE)
    assert row.after == {"id": 1, "n": 2, "note": "secret"} and again.after is not None
    assert reads == [1], "read once: the rebuilt decoder knows the column"
    assert "V1 table items has new columns the mapping does not read: note" in caplog.text
    assert "secret" not in caplog.text
    assert decoders.catalog.tables["items"].column_names[-1] == "note"


def test_a_type_changed_in_v1_is_decoded_by_the_new_type() -> None:
    decoders = SourceDecoders(MAPPING, STARTUP, lambda: catalog(("id", "int4"), ("n", "text")))
    assert decoders.source_row(change({"id": 1, "n": "twelve"}), Op.CREATE).after == {"id": 1, "n": "twelve"}


def test_what_does_not_fit_even_read_again_raises_and_is_read_at_most_once_per_interval() -> None:
    """A column dropped since (the change is older than the catalog): the terminal error, for a dead
    letter; a backlog of such changes costs one catalog read per interval, not one per change."""
    clock, reads = Clock(), []

    def read() -> Catalog:
        reads.append(clock.now)
        return STARTUP

    decoders = SourceDecoders(MAPPING, STARTUP, read, clock=clock)
    for _ in range(3):
        with pytest.raises(SchemaMismatchError, match="gone"):
            decoders.source_row(change({"id": 1, "n": 2, "gone": 1}), Op.CREATE)
    clock.now += REFRESH_EVERY_S
    with pytest.raises(ValueDecodeError):
        decoders.source_row(change({"id": 1, "n": "x"}), Op.CREATE)
    assert reads == [1000.0, 1000.0 + REFRESH_EVERY_S]


@pytest.mark.parametrize("error", [psycopg.OperationalError("down"), TransientError("V1 unreachable")])
def test_v1_unreachable_for_the_read_leaves_the_change_to_its_dead_letter(error: Exception) -> None:
    def read() -> Catalog:
        raise error

    decoders = SourceDecoders(MAPPING, STARTUP, read)
    with pytest.raises(SchemaMismatchError):
        decoders.source_row(change({"id": 1, "n": 2, "note": "x"}), Op.CREATE)
