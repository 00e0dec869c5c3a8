"""``replicator verify`` names the repair for each kind of mismatch it found, with the tables."""

from __future__ import annotations

import pytest

from replicator.cli.verify import _repairs
from replicator.verify.compare import TableResult


def result(table: str, **counts: int) -> TableResult:
    out = TableResult(table)
    out.counts.update(counts)
    return out


def test_each_kind_of_mismatch_points_to_its_repair(capsys: pytest.CaptureFixture[str]) -> None:
    _repairs([result("notes", missing=2), result("users", different=1, extra=3), result("teams")])
    lines = [" ".join(line.split()) for line in capsys.readouterr().err.split("·")[1:]]  # rich wraps
    assert lines == [
        "missing and different rows: `replicator repair missing --table notes --table users`"
        " (--dry-run first)",
        "extra rows: `replicator repair extra --table users` (--dry-run first)",
    ]


def test_nothing_is_said_when_everything_matches(capsys: pytest.CaptureFixture[str]) -> None:
    _repairs([result("notes"), result("users")])
    assert capsys.readouterr().err == ""
