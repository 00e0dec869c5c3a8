"""Row-level diff of one chunk, per-table results, and what counts as "in flight". Pure.

Diffs name keys and columns, never values: they end up in terminals, logs and
``replicator.verification.sample``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from replicator.verify.chunks import Checksum, Tokens, checksum

__all__ = [
    "ChunkResult",
    "Kind",
    "RowDiff",
    "TableResult",
    "compare_chunk",
    "diff_rows",
    "split_in_flight",
    "unchanged_in_v1",
]

SAMPLE_SIZE = 20


class Kind(StrEnum):
    MISSING = "missing"  # expected from V1, absent in V2
    EXTRA = "extra"  # in V2, not expected from V1
    DIFFERENT = "different"  # in both, some compared column differs


@dataclass(frozen=True, slots=True)
class RowDiff:
    kind: Kind
    key: str  # canonical key
    columns: tuple[str, ...] = ()

    def as_dict(self, display: Mapping[str, object] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "key": display if display is not None else self.key}
        if self.columns:
            out["columns"] = list(self.columns)
        return out


def diff_rows(expected: Mapping[str, Tokens], actual: Mapping[str, Tokens]) -> list[RowDiff]:
    """Missing, extra and different rows between two chunks, sorted by kind then key."""
    out = [RowDiff(Kind.MISSING, k) for k in expected.keys() - actual.keys()]
    out += [RowDiff(Kind.EXTRA, k) for k in actual.keys() - expected.keys()]
    for k in expected.keys() & actual.keys():
        want, got = expected[k], actual[k]
        columns = tuple(sorted(c for c in want.keys() | got.keys() if want.get(c) != got.get(c)))
        if columns:
            out.append(RowDiff(Kind.DIFFERENT, k, columns))
    return sorted(out, key=lambda d: (d.kind.value, d.key))


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """One chunk compared: counts and checksums of both sides, then (only if they differ) the diff."""

    index: int
    expected: Checksum
    actual: Checksum
    diffs: tuple[RowDiff, ...] = ()

    @property
    def matches(self) -> bool:
        return self.expected == self.actual and not self.diffs


def compare_chunk(index: int, expected: Mapping[str, Tokens], actual: Mapping[str, Tokens]) -> ChunkResult:
    """Counts, then checksums; the row-level diff is computed only for a chunk whose checksums differ."""
    want, got = checksum(expected.values()), checksum(actual.values())
    if want == got:
        return ChunkResult(index, want, got)
    return ChunkResult(index, want, got, tuple(diff_rows(expected, actual)))


def unchanged_in_v1(
    first: Mapping[str, tuple[tuple[str, ...], Tokens]], second: Mapping[str, tuple[tuple[str, ...], Tokens]]
) -> set[str]:
    """Keys whose V1 state — source row versions (``xmin``) and the expected V2 row — is the same in
    two reads (absent from both counts as the same)."""
    return {k for k in first.keys() | second.keys() if first.get(k) == second.get(k)}


def split_in_flight(
    diffs: Iterable[RowDiff],
    *,
    versions: Mapping[str, int],
    parked: Set[str],
    read_lsn: int,
    stable: Set[str],
) -> tuple[list[RowDiff], list[RowDiff]]:
    """(confirmed, in flight) for differences seen after replication passed ``read_lsn``, the V1
    position of the first read.

    A differing row is confirmed only when (1) its V1 state is the same in a second V1 read made after
    the V2 read (``stable``: no V1 commit touched the row, or what it expects through the mapping,
    between the two reads — so V2, which by then had applied everything up to ``read_lsn``, has
    nothing newer to show), (2) no change of it is parked, and (3) V2's row version is not past
    ``read_lsn``. Otherwise it is in flight and checked again later.

    (3) alone is not enough: Debezium's ``sequence`` gives the *previous* transaction's commit LSN,
    so a row version does not prove on which side of ``read_lsn`` its own transaction committed.
    """
    confirmed: list[RowDiff] = []
    in_flight: list[RowDiff] = []
    for d in diffs:
        if d.key in parked or versions.get(d.key, 0) > read_lsn or d.key not in stable:
            in_flight.append(d)
        else:
            confirmed.append(d)
    return confirmed, in_flight


@dataclass
class TableResult:
    """A table's verdict, accumulated chunk by chunk (and restored from the resume state)."""

    table: str
    rows_expected: int = 0
    rows_actual: int = 0
    chunks: int = 0
    chunks_mismatched: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in Kind})
    sample: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    unverified: tuple[str, ...] = ()
    error: str | None = None
    v1_lsn: str | None = None

    def add(self, result: ChunkResult, display: Mapping[str, Mapping[str, object]]) -> None:
        """Add a chunk; ``display``: canonical key → {key column: value} for the sample."""
        self.rows_expected += result.expected.rows
        self.rows_actual += result.actual.rows
        self.chunks += 1
        if result.diffs:
            self.chunks_mismatched += 1
        for d in result.diffs:
            self.counts[d.kind.value] += 1
            if len(self.sample) < SAMPLE_SIZE:
                self.sample.append(d.as_dict(display.get(d.key)))

    @property
    def mismatches(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        return "mismatch" if self.mismatches else "match"

    @property
    def passed(self) -> bool:
        return self.status == "match"

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "status": self.status,
            "rows_expected": self.rows_expected,
            "rows_actual": self.rows_actual,
            "chunks": self.chunks,
            "chunks_mismatched": self.chunks_mismatched,
            **self.counts,
            "in_flight": self.in_flight,
            "sample": self.sample,
            "unverified_columns": list(self.unverified),
            "error": self.error,
            "v1_lsn": self.v1_lsn,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableResult:
        return cls(
            table=data["table"],
            rows_expected=data["rows_expected"],
            rows_actual=data["rows_actual"],
            chunks=data["chunks"],
            chunks_mismatched=data["chunks_mismatched"],
            counts={k.value: int(data.get(k.value, 0)) for k in Kind},
            sample=list(data.get("sample", [])),
            in_flight=int(data.get("in_flight", 0)),
            unverified=tuple(data.get("unverified_columns", ())),
            error=data.get("error"),
            v1_lsn=data.get("v1_lsn"),
        )
