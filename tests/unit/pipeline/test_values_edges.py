"""Values at the edges of what Debezium's JSON carries, read as they came off the pinned connector:
``bit(n)`` (bytes, little-endian; bit(1) a boolean), ``point`` (a struct with its WKB), a ``time`` of
24:00:00, and a ``varbit`` (its length is not sent: refused). Each one the load's encoder writes comes
back the same through the decoder."""

from __future__ import annotations

from datetime import time

import orjson
import pytest

from replicator.mapping.catalog import CatalogColumn, CatalogTable
from replicator.pipeline.encode import RowEncoder
from replicator.pipeline.infinity import END_OF_DAY, EndOfDay
from replicator.pipeline.values import RowDecoder, ValueDecodeError


def col(name: str, type_name: str, base: str, *, array: bool = False) -> CatalogColumn:
    return CatalogColumn(name=name, type_name=type_name, base_type=base, nullable=True, is_array=array)


TABLE = CatalogTable(
    "edges",
    (
        col("id", "integer", "int4"),
        col("b4", "bit(4)", "bit"),
        col("b1", "bit(1)", "bit"),
        col("b16", "bit(16)", "bit"),
        col("bs", "bit(4)[]", "bit", array=True),
        col("vb", "bit varying", "varbit"),
        col("pt", "point", "point"),
        col("t", "time without time zone", "time"),
        col("t3", "time(3) without time zone", "time"),
    ),
    ("id",),
)
DECODER = RowDecoder(TABLE)


def test_debeziums_own_events_decode_to_postgresqls_values() -> None:
    """The values of an event the connector sent for B'1010', B'1', (1.5,2.5) and 24:00:00."""
    after = {
        "b4": "Cg==",
        "b1": True,
        "b16": "AQA=",
        "bs": ["Cg==", None],
        "pt": {"x": 1.5, "y": 2.5, "wkb": "AQEAAAAAAAAAAAD4PwAAAAAAAARA", "srid": None},
        "t": 86400000000,
        "t3": 86400000,
    }
    row = DECODER.decode(after)
    assert row == {
        "b4": "1010",
        "b1": "1",
        "b16": "0000000000000001",
        "bs": ["1010", None],
        "pt": "(1.5,2.5)",
        "t": "24:00:00",
        "t3": "24:00:00",
    }
    assert type(row["t"]) is EndOfDay


def test_a_point_without_its_wkb_is_read_from_x_and_y() -> None:
    assert DECODER.decode({"pt": {"x": -0.1, "y": 1e300}})["pt"] == "(-0.1,1e+300)"


@pytest.mark.parametrize(
    ("column", "value"),
    [("vb", "BQ=="), ("b4", "/w=="), ("t", 86400000001), ("t", -1), ("pt", "(1,2)")],
)
def test_what_cannot_be_told_exactly_is_refused(column: str, value: object) -> None:
    """A varbit's length, a bit(4) holding 8 bits, a time past 24:00, a point not in Debezium's shape."""
    with pytest.raises(ValueDecodeError):
        DECODER.decode({column: value})


def test_an_empty_varbit_is_certain() -> None:
    assert DECODER.decode({"vb": ""})["vb"] == ""


def test_the_loads_encoder_writes_what_the_decoder_reads_back() -> None:
    row = {
        "b4": "0110",
        "b1": "0",
        "b16": "1000000000000001",
        "bs": ["0000", None],
        "pt": "(1.5,-2.25)",
        "t": END_OF_DAY,
        "t3": time(23, 59, 59, 999000),
    }
    encoded = orjson.loads(orjson.dumps(RowEncoder(TABLE).encode(row)))
    assert encoded["b1"] is False and encoded["t"] == 86400000000
    assert DECODER.decode(encoded) == row
