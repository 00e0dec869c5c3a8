"""psycopg, taught PostgreSQL's infinite timestamps and dates and a time's 24:00:00
(``replicator.pipeline.infinity``).

Out of the box psycopg refuses to read ``infinity`` from a ``timestamp``, ``timestamptz`` or ``date``
column (a ``DataError``: the value is beyond Python's range), so a V1 row holding one could be neither
loaded nor verified (nor a ``time`` of ``24:00:00``). These loaders read ``infinity``/``-infinity`` as
the infinite values of ``pipeline.infinity`` (and ``24:00:00`` as its ``END_OF_DAY``) and leave every
other value to psycopg's own (C) loader, which does the work;
the dumpers write the infinite values back as ``infinity``/``-infinity``, so V2 gets exactly what V1
holds. Registered on psycopg's global adapters when the package is imported (``replicator/__init__``),
so every connection of every command, loading process and worker has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import abc, postgres
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

from replicator.pipeline.infinity import (
    DAY_US,
    END_OF_DAY,
    InfiniteDate,
    InfiniteDatetime,
    infinite,
    infinite_date,
    infinite_timestamp,
)

__all__ = ["register"]

_TEXT = {b"infinity": True, b"-infinity": False}
_INT64 = {
    (2**63 - 1).to_bytes(8, "big", signed=True): True,
    (-(2**63)).to_bytes(8, "big", signed=True): False,
}
_INT32 = {
    (2**31 - 1).to_bytes(4, "big", signed=True): True,
    (-(2**31)).to_bytes(4, "big", signed=True): False,
}


def _loader(name: str, fmt: Format, specials: dict[bytes, object]) -> type[Loader]:
    """A loader of type ``name`` in ``fmt`` that reads the values psycopg refuses (``specials``: their
    bytes on the wire → the Python value) and leaves every other one to psycopg's own loader."""
    oid = postgres.types[name].oid
    found = psycopg.adapters.get_loader(oid, fmt)
    assert found is not None
    base: type[abc.Loader] = found
    firsts = {k[0] for k in specials}  # the first byte spares nearly every value the full comparison

    class SpecialLoader(Loader):
        format = fmt

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = base(oid, context).load

        def load(self, data: Any) -> object:
            if data and data[0] in firsts:
                special = specials.get(bytes(data), _NONE)
                if special is not _NONE:
                    return special
            return self._load(data)

    SpecialLoader.__name__ = f"Special{base.__name__}"
    return SpecialLoader


_NONE = object()


def _specials(name: str, fmt: Format) -> dict[bytes, object]:
    """What psycopg cannot read of type ``name``, in ``fmt``: the infinities, a time's 24:00:00."""
    if name == "time":
        wire = b"24:00:00" if fmt is Format.TEXT else DAY_US.to_bytes(8, "big", signed=True)
        return {wire: END_OF_DAY}
    make = _KINDS[name]
    wires = _TEXT if fmt is Format.TEXT else (_INT32 if name == "date" else _INT64)
    return {wire: make(positive) for wire, positive in wires.items()}


class _InfiniteDumper(Dumper):
    """``infinity``/``-infinity`` as text, of no declared type: PostgreSQL reads it as the timestamp,
    timestamptz or date column (or parameter) it goes into. (psycopg refuses a list mixing these with
    finite values, two Python types: the sink writes such an array as text, ``sink.store``.)"""

    oid = 0

    def dump(self, obj: Any) -> bytes:
        text = infinite(obj)
        assert text is not None
        return text.encode()


_KINDS: dict[str, Callable[[bool], object]] = {
    "timestamp": lambda positive: infinite_timestamp(positive, aware=False),
    "timestamptz": lambda positive: infinite_timestamp(positive, aware=True),
    "date": infinite_date,
}
_registered = False


def register() -> None:
    """Install the loaders and dumpers on psycopg's global adapters, once."""
    global _registered  # noqa: PLW0603 - a process-wide registration, done once
    if _registered:
        return
    for name in (*_KINDS, "time"):
        for fmt in Format:
            psycopg.adapters.register_loader(name, _loader(name, fmt, _specials(name, fmt)))
    psycopg.adapters.register_dumper(InfiniteDatetime, _InfiniteDumper)
    psycopg.adapters.register_dumper(InfiniteDate, _InfiniteDumper)
    _registered = True
